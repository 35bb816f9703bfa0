"""Loading the 部件/事件 classification from data (cases/data/categories.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from civicloop.cases.models import Category

SEED = Path(__file__).resolve().parent / "data" / "categories.json"


def _limit(limits: dict[str, Any], urgency: str) -> tuple[int, str]:
    item = limits.get(urgency) or {}
    return int(item.get("value", 0)), str(item.get("unit", "working_hours"))


@transaction.atomic
def categories_load(data: list[dict[str, Any]]) -> int:
    """Create or update every 大类 and 小类; returns how many rows were written.

    Existing rows are matched by kind and code, so administrators' edits to other fields of
    categories absent from the data survive, and reloading the same data changes nothing.
    """
    written = 0
    for major in data:
        parent, _ = Category.objects.update_or_create(
            kind=major["kind"],
            full_code=major["code"],
            defaults={"code": major["code"], "name": major["name"], "parent": None},
        )
        written += 1
        for minor in major.get("children", []):
            normal, normal_unit = _limit(minor.get("default_limits", {}), "normal")
            urgent, urgent_unit = _limit(minor.get("default_limits", {}), "urgent")
            Category.objects.update_or_create(
                kind=major["kind"],
                full_code=major["code"] + minor["code"],
                defaults={
                    "parent": parent,
                    "code": minor["code"],
                    "name": minor["name"],
                    "pinyin": minor.get("pinyin", ""),
                    "keywords": " ".join(minor.get("keywords", [])),
                    "filing_standard": minor.get("filing_standard", ""),
                    "closing_standard": minor.get("closing_standard", ""),
                    "default_owner": minor.get("default_owner", ""),
                    "limit_normal": normal,
                    "limit_normal_unit": normal_unit,
                    "limit_urgent": urgent,
                    "limit_urgent_unit": urgent_unit,
                },
            )
            written += 1
    return written


def categories_load_seed() -> int:
    return categories_load(json.loads(SEED.read_text(encoding="utf-8")))
