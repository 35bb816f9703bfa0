"""The SLA sweep: raise the level of every clock whose next threshold has passed and append one
event per level reached; listeners of case events (notifications) tell that rung of the ladder.

Safe with several workers: each batch claims its rows with `SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite runs one write transaction at a time), and every update is conditional on
the level and threshold it read, so a clock is never raised twice and a rerun finds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from civicloop.cases import sla
from civicloop.cases.audience import ladder
from civicloop.cases.events import event_record
from civicloop.cases.models import Case, CaseClock, EventType, SlaLevel
from civicloop.lib import clock as clock_

logger = logging.getLogger(__name__)

LEVEL_EVENTS = {
    SlaLevel.WARNING: EventType.SLA_WARNING,
    SlaLevel.OVERDUE: EventType.SLA_OVERDUE,
    SlaLevel.SERIOUS: EventType.SLA_SERIOUS,
}


@dataclass
class SweepResult:
    clocks: int = 0
    events: int = 0

    def add(self, other: SweepResult) -> None:
        self.clocks += other.clocks
        self.events += other.events


def sla_sweep(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """Sweep until no unclaimed clock is due; returns how many clocks and events changed."""
    now = now or clock_.now()
    total = SweepResult()
    while True:
        done = _sweep_batch(now, batch)
        if done is None:
            return total
        total.add(done)


@transaction.atomic
def _sweep_batch(now: datetime, batch: int) -> SweepResult | None:
    clocks = list(
        CaseClock.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(next_level_at__lte=now)
        .order_by("next_level_at", "id")[:batch]
    )
    if not clocks:
        return None
    result = SweepResult()
    for clock in clocks:
        result.events += _raise(clock, now)
        result.clocks += 1
    return result


def _raise(clock: CaseClock, now: datetime) -> int:
    old = clock.level
    new = sla.level_at(clock, now)
    if new <= old:  # thresholds out of order (bad data): stop looking at this clock
        logger.warning("clock %s: next_level_at passed without a level change", clock.pk)
        CaseClock.objects.filter(pk=clock.pk, level=old).update(next_level_at=None)
        return 0
    changed = CaseClock.objects.filter(
        pk=clock.pk,
        level=old,
        next_level_at=clock.next_level_at,
        stopped_at__isnull=True,
        paused_at__isnull=True,
    ).update(level=new, next_level_at=sla.threshold_of(clock, new + 1))
    if changed != 1:
        return 0
    for level in range(old + 1, new + 1):
        _record(clock, level, now)
    return new - old


def _record(clock: CaseClock, level: int, now: datetime) -> None:
    Case.objects.filter(pk=clock.case_id).update(
        version=F("version") + 1, sla_level=Greatest(F("sla_level"), Value(level))
    )
    case = Case.objects.get(pk=clock.case_id)
    threshold = sla.threshold_of(clock, level)
    event_record(
        case=case,
        type=LEVEL_EVENTS[SlaLevel(level)],
        actor=None,
        is_public=False,
        data={
            "stage": clock.stage,
            "level": level,
            "at": threshold.isoformat() if threshold else None,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "notify": [str(a) for a in ladder(clock.stage, level)],
        },
    )
