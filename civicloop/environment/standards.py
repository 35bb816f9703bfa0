"""The standards library: loading the built-in fixture and choosing the edition and the limit
that apply to a datum.

The fixture (data/standards.json) transcribes environment-standards.md §1–§3. Loading is
idempotent: built-in standards, editions and their limits are rewritten from the file; standards
that administrators added (local and product standards, `is_builtin=False`) are never touched.
Editions are chosen by the local date of the data (e.g. GB 3095—2012 until 2026-02-28,
GB 3095—2026 from 2026-03-01), limits within an edition by grade, applicability, build date
(GB 8978 表2/表4, GB 13271 表1/表2, GB 18918 TP) and the limit's own validity (GB 3095—2026
transitional and final columns).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db import transaction
from django.db.models import Prefetch

from civicloop.environment import aqi
from civicloop.environment.models import Standard, StandardEdition, StandardLimit

LIBRARY = Path(__file__).resolve().parent / "data" / "standards.json"
DEFAULT_APPLICABILITY = frozenset({"", "其他排污单位", "一切排污单位"})


@dataclass(frozen=True)
class LoadSummary:
    pollutants: int
    standards: int
    editions: int
    limits: int


def library_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(LIBRARY.read_text(encoding="utf-8"))
    return data


def parse_value(value: Any) -> tuple[float | None, float | None, bool] | None:
    """A fixture cell as (low, high, not_detectable); None for "no limit in this column"."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return None, float(value), False
    text = str(value).strip()
    if text == "ND":
        return None, None, True
    if text.startswith("<"):
        return None, float(text[1:]), False
    if text.startswith(">"):
        return float(text[1:]), None, False
    low, high = text.split("-")
    return float(low), float(high), False


@transaction.atomic
def load_library(*, apps: Apps | None = None, data: dict[str, Any] | None = None) -> LoadSummary:
    """Create or update the built-in pollutants and standards (also used by a migration)."""
    registry = apps or global_apps
    data = data or library_data()
    pollutants = _load_pollutants(registry, data["pollutants"])
    editions = limits = 0
    for item in data["standards"]:
        standard = _standard(registry, item)
        for edition_data in item["editions"]:
            edition = _edition(registry, standard, edition_data)
            editions += 1
            limits += _limits(registry, edition, edition_data, pollutants)
    return LoadSummary(len(pollutants), len(data["standards"]), editions, limits)


def _load_pollutants(registry: Apps, rows: list[list[str]]) -> dict[str, Any]:
    model = registry.get_model("environment", "Pollutant")
    found = {}
    for code, legacy, name, medium, unit in rows:
        pollutant, _created = model.objects.update_or_create(
            code=code,
            defaults={"legacy_code": legacy, "name": name, "medium": medium, "unit": unit},
        )
        found[code] = pollutant
    return found


def _standard(registry: Apps, item: dict[str, Any]) -> Any:
    model = registry.get_model("environment", "Standard")
    standard, _created = model.objects.update_or_create(
        number=item["number"],
        defaults={
            "name": item["name"],
            "kind": item["kind"],
            "medium": item["medium"],
            "is_builtin": True,
        },
    )
    return standard


def _edition(registry: Apps, standard: Any, item: dict[str, Any]) -> Any:
    model = registry.get_model("environment", "StandardEdition")
    extra = {"aqi_edition": item["aqi_edition"]} if "aqi_edition" in item else {}
    edition, _created = model.objects.update_or_create(
        standard=standard,
        edition=item["edition"],
        defaults={
            "title": item["title"],
            "issued_on": item.get("issued_on"),
            "effective_from": item["effective_from"],
            "effective_to": item.get("effective_to"),
            "source": item.get("source", ""),
            "data": extra,
            "is_builtin": True,
        },
    )
    return edition


def _limits(registry: Apps, edition: Any, item: dict[str, Any], pollutants: dict[str, Any]) -> int:
    model = registry.get_model("environment", "StandardLimit")
    model.objects.filter(edition=edition).delete()
    rows: list[Any] = []
    for table in item["tables"]:
        rows.extend(_table_rows(model, edition, table, pollutants, start=len(rows)))
    model.objects.bulk_create(rows)
    return len(rows)


def _table_rows(
    model: Any, edition: Any, table: dict[str, Any], pollutants: dict[str, Any], *, start: int
) -> list[Any]:
    rows = []
    grades = table["grades"]
    oxygen = table.get("reference_o2") or [None] * len(grades)
    for name, code, applicability, values, *rest in table["rows"]:
        options = rest[0] if rest else {}
        for grade, value, o2 in zip(grades, values, oxygen, strict=True):
            parsed = parse_value(value)
            if parsed is None:
                continue
            rows.append(
                _limit_row(model, edition, table, options, name, code, applicability, grade)
            )
            row = rows[-1]
            row.low, row.high, row.not_detectable = parsed
            row.reference_o2 = None if options.get("no_o2") else o2
            row.pollutant = pollutants.get(code) if code else None
            row.order = start + len(rows)
    return rows


def _limit_row(
    model: Any,
    edition: Any,
    table: dict[str, Any],
    options: dict[str, Any],
    name: str,
    code: str,
    applicability: str,
    grade: str,
) -> Any:
    def pick(key: str) -> Any:
        return options.get(key, table.get(key))

    return model(
        edition=edition,
        table=table["table"],
        pollutant_name=name,
        applicability=applicability,
        is_default=options.get("default", applicability in DEFAULT_APPLICABILITY),
        grade=grade,
        period=pick("period"),
        unit=pick("unit"),
        location=pick("location") or "",
        built_before=pick("built_before"),
        built_from=pick("built_from"),
        valid_from=pick("valid_from"),
        valid_to=pick("valid_to"),
        note=pick("note") or "",
    )


# ---------------------------------------------------------------- choosing


def edition_in_force(standard: Standard, on: date) -> StandardEdition | None:
    """The edition of `standard` in force on the local day `on` (the newest if several)."""
    return (
        StandardEdition.objects.filter(standard=standard)
        .in_force(on)
        .select_related("standard")
        .order_by("-effective_from")
        .first()
    )


def standard_limit(
    *,
    standard: Standard,
    pollutant_code: str,
    on: date,
    grade: str = "",
    period: str | None = None,
    applicability: str = "",
    built_on: date | None = None,
    table: str = "",
) -> StandardLimit | None:
    """The cell of the edition in force on `on` for a pollutant and grade.

    Without an applicability the table's default row ("其他/一切排污单位") applies; without a
    build date the rows for new units (or rows with no build-date condition) apply.
    """
    edition = edition_in_force(standard, on)
    if edition is None:
        return None
    rows = StandardLimit.objects.filter(edition=edition, pollutant__code=pollutant_code)
    return choose_limit(
        rows.select_related("edition__standard", "pollutant"),
        pollutant_code=pollutant_code,
        on=on,
        grade=grade,
        period=period,
        applicability=applicability,
        built_on=built_on,
        table=table,
    )


def choose_limit(
    rows: Iterable[StandardLimit],
    *,
    pollutant_code: str,
    on: date,
    grade: str = "",
    period: str | None = None,
    applicability: str = "",
    built_on: date | None = None,
    table: str = "",
) -> StandardLimit | None:
    """The same choice as `standard_limit`, over rows of one edition already in memory."""
    candidates = sorted(
        (
            row
            for row in rows
            if row.pollutant is not None
            and row.pollutant.code == pollutant_code
            and row.grade == grade
            and (period is None or row.period == period)
            and (not table or row.table == table)
            and _valid_on(row, on)
            and _built_ok(row, built_on)
        ),
        key=lambda row: row.order,
    )
    exact = [row for row in candidates if applicability and row.applicability == applicability]
    defaults = [row for row in candidates if row.is_default]
    chosen = exact or defaults
    return chosen[0] if chosen else None


def _valid_on(row: StandardLimit, on: date) -> bool:
    after_start = row.valid_from is None or row.valid_from <= on
    return after_start and (row.valid_to is None or row.valid_to >= on)


def _built_ok(row: StandardLimit, built_on: date | None) -> bool:
    if built_on is None:
        return row.built_before is None
    before = row.built_before is None or built_on < row.built_before
    return before and (row.built_from is None or built_on >= row.built_from)


def editions_of(standard_id: int, pollutant_code: str) -> list[StandardEdition]:
    """Every edition of a standard, newest first, each with its limits for one pollutant."""
    limits = StandardLimit.objects.filter(pollutant__code=pollutant_code).select_related(
        "pollutant", "edition__standard"
    )
    return list(
        StandardEdition.objects.filter(standard_id=standard_id)
        .select_related("standard")
        .prefetch_related(Prefetch("limits", queryset=limits))
        .order_by("-effective_from")
    )


def edition_on(editions: Iterable[StandardEdition], on: date) -> StandardEdition | None:
    """The edition in force on `on`, from editions ordered newest first."""
    for edition in editions:
        if edition.effective_from <= on and (
            edition.effective_to is None or edition.effective_to >= on
        ):
            return edition
    return None


def aqi_edition_for(day: date) -> aqi.Edition:
    """The HJ 633 edition in force on a local day, from the library (fallback: aqi.py)."""
    standard = Standard.objects.filter(number="HJ 633").first()
    edition = edition_in_force(standard, day) if standard else None
    name = (edition.data or {}).get("aqi_edition") if edition else None
    known = {str(member) for member in aqi.Edition}
    return aqi.Edition(name) if name in known else aqi.edition_for(day)
