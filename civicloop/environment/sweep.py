"""The environment sweep: rules over every monitored outlet, alerts into cases, alerts resolved
when their case closes, AQI of the micro stations. `civicloop env_sweep [--loop]` runs it.

Safe with several workers: outlets are taken in chunks of 100 per transaction, each under a
PostgreSQL advisory lock (`pg_try_advisory_xact_lock`) — a worker skips outlets another one
holds; the partial unique index "one open alert per outlet, kind and pollutant" is the last
line of defence. A chunk's data is read in two queries (hourly and daily values).
Idempotent: findings already counted change nothing, resolution is a conditional UPDATE, AQI
rows are upserts that skip unchanged values.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Prefetch, QuerySet

from civicloop.environment import alerts, rules
from civicloop.environment.evaluate import load_outlets_data, observe_outlet
from civicloop.environment.limits import LimitBook
from civicloop.environment.models import Outlet, Permit, PermitLimit, SpecialPeriodLimit
from civicloop.environment.stations import StationSummary, station_aqi_refresh
from civicloop.lib import clock

logger = logging.getLogger(__name__)
# Outlets per transaction: claimed together, their data loaded in two queries.
CHUNK = 100


@dataclass
class SweepSummary:
    outlets: int = 0
    skipped: int = 0
    observations: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    alerts_resolved: int = 0
    cases_retried: int = 0
    stations: StationSummary = field(default_factory=StationSummary)

    def line(self) -> str:
        return (
            f"outlets={self.outlets} skipped={self.skipped} observations={self.observations} "
            f"alerts_created={self.alerts_created} alerts_updated={self.alerts_updated} "
            f"alerts_resolved={self.alerts_resolved} cases_retried={self.cases_retried} "
            f"stations={self.stations.stations} aqi_hours={self.stations.hours} "
            f"aqi_days={self.stations.days}"
        )


def monitored_outlets() -> QuerySet[Outlet]:
    return Outlet.objects.filter(
        is_active=True, enterprise__is_active=True, monitoring_point__isnull=False
    ).select_related("enterprise__town", "monitoring_point")


def current_limits(outlets: list[Outlet], *, now: datetime) -> dict[int, list[PermitLimit]]:
    """The limits of each enterprise's permit version in force today (else its newest)."""
    today = rules.local_day(now)
    enterprises = {outlet.enterprise_id for outlet in outlets}
    permits = Permit.objects.filter(enterprise_id__in=enterprises).order_by(
        "enterprise_id", "-valid_from", "-version"
    )
    chosen: dict[int, Permit] = {}
    for permit in permits:
        in_force = permit.valid_from <= today <= permit.valid_to
        held = chosen.get(permit.enterprise_id)
        if held is None or (in_force and not held.valid_from <= today <= held.valid_to):
            chosen[permit.enterprise_id] = permit
    limits = (
        PermitLimit.objects.filter(permit__in=chosen.values(), outlet__in=outlets)
        .select_related("pollutant", "permit", "standard", "outlet")
        .prefetch_related(Prefetch("special_periods", queryset=SpecialPeriodLimit.objects.all()))
    )
    by_outlet: dict[int, list[PermitLimit]] = defaultdict(list)
    for limit in limits:
        by_outlet[limit.outlet_id].append(limit)
    return by_outlet


def sweep_outlets(
    *,
    now: datetime | None = None,
    outlets: QuerySet[Outlet] | None = None,
    summary: SweepSummary | None = None,
) -> SweepSummary:
    now = now or clock.now()
    summary = summary or SweepSummary()
    selected = list((outlets if outlets is not None else monitored_outlets()).order_by("pk"))
    limits = current_limits(selected, now=now)
    book = LimitBook()
    for at in range(0, len(selected), CHUNK):
        with transaction.atomic():
            _sweep_chunk(selected[at : at + CHUNK], limits, now, book, summary)
    return summary


def _sweep_chunk(
    outlets: list[Outlet],
    limits: dict[int, list[PermitLimit]],
    now: datetime,
    book: LimitBook,
    summary: SweepSummary,
) -> None:
    """Claim what no other worker holds, load its data in two queries, record findings."""
    claimed = set(alerts.claim_outlets([o.pk for o in outlets]))
    mine = [o for o in outlets if o.pk in claimed]
    summary.skipped += len(outlets) - len(mine)
    data = load_outlets_data(mine, limits, now=now)
    open_alerts = alerts.open_alerts_by_outlet([o.pk for o in mine])
    for outlet in mine:
        observed = observe_outlet(
            outlet, limits.get(outlet.pk, []), now=now, book=book, data=data[outlet.pk]
        )
        recorded = alerts.outlet_record(
            outlet=outlet, observations=observed, open_alerts=open_alerts[outlet.pk]
        )
        summary.outlets += 1
        summary.observations += len(observed)
        summary.alerts_created += recorded.created
        summary.alerts_updated += recorded.updated


def sweep(*, now: datetime | None = None, stations: bool = True) -> SweepSummary:
    """One full pass. `now` lets the demo and tests sweep at a given moment."""
    now = now or clock.now()
    with clock.frozen(now):
        summary = sweep_outlets(now=now)
        summary.alerts_resolved = alerts.alerts_resolve(now=now)
        summary.cases_retried = alerts.alerts_retry_cases(older_than=timedelta(minutes=1))
        if stations:
            summary.stations = station_aqi_refresh(now=now)
    logger.info("environment sweep: %s", summary.line())
    return summary
