"""The demo rules load on the demo map and organisations, idempotently, and route as meant."""

from __future__ import annotations

import pytest

from civicloop.accounts.demo import load_demo_organisations
from civicloop.cases import routing
from civicloop.cases.categories import categories_load_seed
from civicloop.cases.demo_rules import VERSION_NAME, load_demo_rules
from civicloop.cases.models import Case, Category, RoutingRule, Stage, TimeLimit
from civicloop.regions.demo import load_yiwu_regions
from civicloop.regions.models import Level, Region


@pytest.fixture
def demo_world(db: None) -> None:
    load_yiwu_regions()
    categories_load_seed()
    load_demo_organisations()


def _case_in(town: Region, kind: str, code: str) -> Case:
    grid = Region.objects.filter(level=Level.GRID, path__startswith=town.path).first()
    assert grid is not None and grid.parent is not None
    category = Category.objects.get(kind=kind, full_code=code)
    return Case(
        category=category,
        urgency="normal",
        grid=grid,
        village=grid.parent,
        town=town,
        city=town.parent,
        lat=0,
        lon=0,
    )


@pytest.mark.usefixtures("demo_world")
def test_demo_rules_load_once_and_route() -> None:
    first = load_demo_rules()
    second = load_demo_rules()
    assert second.routing_rules == 0
    assert second.version == first.version
    assert first.version.name == VERSION_NAME
    assert RoutingRule.objects.count() == first.routing_rules > 0
    assert TimeLimit.objects.filter(version=first.version, stage=Stage.INTAKE).count() == 2
    assert TimeLimit.objects.filter(version=first.version, region__isnull=False).count() == 1

    chouchen = Region.objects.get(code="330782001000")
    rubbish = routing.route_for(_case_in(chouchen, "event", "0102"))  # 暴露垃圾 → 环卫所
    assert rubbish is not None
    assert (rubbish.organisation.code, rubbish.auto) == ("330782001-hw", True)
    cover = routing.route_for(_case_in(chouchen, "component", "0101"))  # 上水井盖 → 水务局
    assert cover is not None
    assert (cover.organisation.code, cover.auto) == ("yw-sw", False)
