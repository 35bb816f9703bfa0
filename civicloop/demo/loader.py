"""Loads the whole Yiwu demo into the current database, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from civicloop.accounts.demo import DemoAccount, load_demo_organisations, load_demo_people
from civicloop.cases.categories import categories_load_seed
from civicloop.cases.demo import load_demo_cases
from civicloop.cases.demo_rules import load_demo_rules
from civicloop.environment.demo import DemoEnvironmentSummary, load_demo_environment
from civicloop.ingest.demo import register_demo_points
from civicloop.regions.demo import load_yiwu_regions


@dataclass(frozen=True)
class DemoSummary:
    regions: dict[str, int]
    categories: int
    organisations: int
    accounts: list[DemoAccount]
    cases_created: int
    environment: DemoEnvironmentSummary
    monitoring_points: int


def load_demo(*, cases: int = 500, days: int = 90, progress: bool = False) -> DemoSummary:
    regions = load_yiwu_regions()
    categories = categories_load_seed()
    organisations = load_demo_organisations()
    accounts = load_demo_people()
    load_demo_rules()
    created = load_demo_cases(count=cases, days=days, progress=progress)
    # After the loop's own demo: the environment's exceedances open cases of their own.
    environment = load_demo_environment()
    points = len(register_demo_points())
    return DemoSummary(regions, categories, organisations, accounts, created, environment, points)
