"""Who a case concerns, by position rather than by name (resolved to people by the listeners of
case events, e.g. notifications), and the escalation ladder of the SLA sweep."""

from __future__ import annotations

from enum import StrEnum

from civicloop.cases.models import SlaLevel, Stage


class Audience(StrEnum):
    REPORTER = "reporter"  # the reporter and everyone following the case
    UNIT_HANDLERS = "unit_handlers"  # 处置人员 of the responsible (lead) unit
    UNIT_HEADS = "unit_heads"  # 责任单位负责人 of the lead unit
    ASSISTING_UNITS = "assisting_units"  # 会办 units
    NAMED_UNIT = "named_unit"  # the unit named by the event (会办 added/ended, recalled from)
    GRID_WORKERS = "grid_workers"  # 网格员 of the case's grid
    TOWN_CLERKS = "town_clerks"  # 受理员 of the town centre
    TOWN_DISPATCHERS = "town_dispatchers"  # 派遣员 of the town centre
    TOWN_VERIFIERS = "town_verifiers"  # 核查员 of the town centre
    TOWN_SHIFT_LEADS = "town_shift_leads"  # 值班长 of the town centre
    TOWN_CENTRE = "town_centre"  # dispatchers and shift leads of the town
    CITY_CENTRE = "city_centre"  # shift leads, dispatchers and evaluators of the city


A = Audience
# Stage → level → who hears of it. Each level climbs one rung: handler → unit head → town
# centre → city centre for a unit's clocks, clerk → shift lead → city for the centre's own.
LADDER: dict[str, dict[int, tuple[Audience, ...]]] = {
    Stage.INTAKE: {
        SlaLevel.WARNING: (A.TOWN_CLERKS,),
        SlaLevel.OVERDUE: (A.TOWN_CLERKS, A.TOWN_SHIFT_LEADS),
        SlaLevel.SERIOUS: (A.TOWN_SHIFT_LEADS, A.CITY_CENTRE),
    },
    Stage.VERIFY: {
        SlaLevel.WARNING: (A.GRID_WORKERS,),
        SlaLevel.OVERDUE: (A.GRID_WORKERS, A.TOWN_CLERKS),
        SlaLevel.SERIOUS: (A.TOWN_SHIFT_LEADS, A.CITY_CENTRE),
    },
    Stage.CLAIM: {
        SlaLevel.WARNING: (A.UNIT_HANDLERS,),
        SlaLevel.OVERDUE: (A.UNIT_HANDLERS, A.UNIT_HEADS),
        SlaLevel.SERIOUS: (A.UNIT_HEADS, A.TOWN_CENTRE, A.CITY_CENTRE),
    },
    Stage.DISPOSE: {
        SlaLevel.WARNING: (A.UNIT_HANDLERS,),
        SlaLevel.OVERDUE: (A.UNIT_HANDLERS, A.UNIT_HEADS),
        SlaLevel.SERIOUS: (A.UNIT_HEADS, A.TOWN_CENTRE, A.CITY_CENTRE),
    },
    Stage.CHECK: {
        SlaLevel.WARNING: (A.TOWN_VERIFIERS,),
        SlaLevel.OVERDUE: (A.TOWN_VERIFIERS, A.TOWN_SHIFT_LEADS),
        SlaLevel.SERIOUS: (A.TOWN_SHIFT_LEADS, A.CITY_CENTRE),
    },
}


def ladder(stage: str, level: int) -> tuple[Audience, ...]:
    return LADDER.get(stage, {}).get(level, ())
