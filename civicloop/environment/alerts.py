"""Alerts: findings, deduplicated while they last, turned into cases of the closed loop.

* One open alert per (outlet, kind, pollutant). A later finding of the same key updates it
  (periods, longest run, worst value, latest evidence); nothing new is written when a sweep sees
  a finding it already counted.
* A finding that ended before the last resolved alert of its key ended is history: it never
  opens a second alert after the first one's case was closed.
* A new alert reports a case through `cases.services.case_report` (source 在线监测, category
  环境监管/超标排放, 数据异常 or 设备离线, at the outlet's position), files it and dispatches it to
  the environmental enforcement team of the enterprise's region. The reporter is the
  monitoring system account (see `system_user`), which holds intake-clerk and dispatcher
  memberships on the enterprise's town, created on demand.
* The alert resolves when its case is closed (or rejected, or merged): `alerts_resolve`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Max

from civicloop.accounts.models import Organisation, OrgKind, Role, User
from civicloop.accounts.services import membership_grant
from civicloop.cases import services as case_services
from civicloop.cases.models import CLOSED_STATES, Case, Category, Source, State, Urgency
from civicloop.environment import rules
from civicloop.environment.evaluate import Observation
from civicloop.environment.models import Alert, AlertKind, AlertStatus, EnforcementTeam, Outlet
from civicloop.environment.selectors import DEFAULT_ENFORCEMENT_ORG
from civicloop.lib import clock
from civicloop.lib.errors import DomainError
from civicloop.regions.models import Region

logger = logging.getLogger(__name__)

# The monitoring system's own account. Not a dialable number, and no usable password: it
# cannot log in; it only acts through the services, so every case event names it.
SYSTEM_MOBILE = "10000000212"
SYSTEM_NAME = "在线监测预警系统"
MAJOR_CATEGORY = "环境监管"
CATEGORY_FOR_KIND = {
    AlertKind.EXCEEDANCE: "超标排放",
    AlertKind.OFFLINE: "设备离线",
    AlertKind.MISSING: "设备离线",
}
DEFAULT_CATEGORY = "数据异常"
MAX_RUNS_KEPT = 20
_LOCK_NAMESPACE = 616  # PostgreSQL advisory locks of the environment sweep, per outlet id


@dataclass
class RecordResult:
    alert: Alert | None
    created: bool = False
    updated: bool = False


# ---------------------------------------------------------------- recording


@dataclass
class OutletRecord:
    created: int = 0
    updated: int = 0


def outlet_record(
    *,
    outlet: Outlet,
    observations: list[Observation],
    open_alerts: dict[tuple[str, str], Alert] | None = None,
) -> OutletRecord:
    """Record every observation of one outlet (the caller holds the outlet's claim)."""
    summary = OutletRecord()
    if not observations:
        return summary
    if open_alerts is None:
        open_alerts = {
            (alert.kind, alert.code): alert
            for alert in Alert.objects.filter(outlet=outlet, status=AlertStatus.OPEN)
        }
    for observation in observations:
        result = alert_record(outlet=outlet, observation=observation, open_alerts=open_alerts)
        summary.created += result.created
        summary.updated += result.updated
    return summary


def alert_record(
    *,
    outlet: Outlet,
    observation: Observation,
    open_alerts: dict[tuple[str, str], Alert] | None = None,
) -> RecordResult:
    """Open a new alert (and its case) or fold the finding into the open one."""
    finding = observation.finding
    kind = AlertKind(str(finding.kind))
    if open_alerts is None:
        open_alerts = {
            (a.kind, a.code): a
            for a in Alert.objects.filter(outlet=outlet, kind=kind, status=AlertStatus.OPEN)
        }
    open_alert = open_alerts.get((kind, finding.code))
    if open_alert is not None:
        return RecordResult(open_alert, updated=_fold(open_alert, observation))
    if _is_history(outlet, kind, finding):
        return RecordResult(None)
    alert = _create(outlet, kind, observation)
    open_alerts[(kind, finding.code)] = alert
    alert_open_case(alert=alert)
    return RecordResult(alert, created=True)


def _is_history(outlet: Outlet, kind: AlertKind, finding: rules.Finding) -> bool:
    resolved_until = Alert.objects.filter(
        outlet=outlet, kind=kind, code=finding.code, status=AlertStatus.RESOLVED
    ).aggregate(end=Max("last_end"))["end"]
    return resolved_until is not None and finding.end <= resolved_until


def _create(outlet: Outlet, kind: AlertKind, observation: Observation) -> Alert:
    finding = observation.finding
    limit = observation.limit
    now = clock.now()
    assert outlet.monitoring_point is not None
    return Alert.objects.create(
        outlet=outlet,
        point=outlet.monitoring_point,
        kind=kind,
        code=finding.code,
        pollutant_name=observation.pollutant_name,
        first_start=finding.start,
        last_end=finding.end,
        findings=1,
        periods=finding.count,
        max_consecutive=finding.count,
        worst_value=_rounded(finding.value),
        unit=observation.unit,
        limit_text=finding.limit,
        basis=limit.basis if limit else "",
        is_persistent=observation.persistent,
        evidence=_evidence(None, observation),
        created_at=now,
        updated_at=now,
    )


def _fold(alert: Alert, observation: Observation) -> bool:
    """Count what is new in the finding; False when the alert already covers it."""
    finding = observation.finding
    if finding.end <= alert.last_end:
        return False
    step = observation.step
    new_periods = round((finding.end - max(finding.start, alert.last_end)) / step)
    if finding.start >= alert.last_end:
        alert.findings += 1
    alert.periods += new_periods
    alert.max_consecutive = max(alert.max_consecutive, finding.count)
    alert.worst_value = _worse(alert.worst_value, _rounded(finding.value), alert.kind)
    alert.last_end = finding.end
    alert.is_persistent = alert.is_persistent or observation.persistent
    alert.limit_text = finding.limit or alert.limit_text
    alert.evidence = _evidence(alert.evidence, observation)
    alert.updated_at = clock.now()
    alert.save(update_fields=_FOLDED)
    return True


_FOLDED = [
    "findings",
    "periods",
    "max_consecutive",
    "worst_value",
    "last_end",
    "is_persistent",
    "limit_text",
    "evidence",
    "updated_at",
]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _worse(current: float | None, new: float | None, kind: str) -> float | None:
    if current is None or new is None:
        return new if current is None else current
    return min(current, new) if kind == AlertKind.NEGATIVE else max(current, new)


def _evidence(previous: dict[str, Any] | None, observation: Observation) -> dict[str, Any]:
    runs = list(previous.get("runs", [])) if previous else []
    runs = [*runs, observation.finding.as_dict()][-MAX_RUNS_KEPT:]
    first = previous.get("first") if previous else observation.evidence
    return {"first": first, "latest": observation.evidence, "runs": runs}


# ---------------------------------------------------------------- the case


def system_user() -> User:
    """The monitoring system account (created once, idempotently)."""
    user = User.objects.filter(mobile=SYSTEM_MOBILE).first()
    if user is None:
        # Created directly: the account is deliberately not a valid mobile number.
        user = User.objects.create(
            mobile=SYSTEM_MOBILE, name=SYSTEM_NAME, password=make_password(None)
        )
    return user


def system_user_for(town: Region) -> User:
    """The system account with intake-clerk (file) and dispatcher (dispatch) memberships on
    the town, attached to the town's command centre when there is one."""
    user = system_user()
    centre = Organisation.objects.filter(
        kind=OrgKind.TOWN_CENTRE, region=town, is_active=True
    ).first()
    for role in (Role.INTAKE_CLERK, Role.DISPATCHER):
        membership_grant(user=user, role=role, region=town, organisation=centre)
    return User.objects.get(pk=user.pk)  # fresh: memberships are cached per user object


def enforcement_team_for(town: Region) -> Organisation | None:
    """The team of the deepest region containing the town; else the city department yw-hb."""
    teams = EnforcementTeam.objects.filter(
        is_active=True, organisation__is_active=True, region__code__in=town.ancestor_codes()
    ).select_related("organisation", "region")
    deepest = max(teams, key=lambda team: len(team.region.path), default=None)
    if deepest is not None:
        return deepest.organisation
    return Organisation.objects.filter(code=DEFAULT_ENFORCEMENT_ORG, is_active=True).first()


def _category(kind: str) -> Category | None:
    name = CATEGORY_FOR_KIND.get(AlertKind(kind), DEFAULT_CATEGORY)
    return (
        Category.objects.filter(parent__name=MAJOR_CATEGORY, name=name, is_active=True).first()
        or Category.objects.filter(
            parent__name=MAJOR_CATEGORY, name=DEFAULT_CATEGORY, is_active=True
        ).first()
    )


def alert_open_case(*, alert: Alert) -> Case | None:
    """Report, file and dispatch the alert's case; on a domain error keep the alert open with
    the reason (the next sweep tries again)."""
    try:
        with transaction.atomic():
            case = _report_and_dispatch(alert)
    except DomainError as exc:
        logger.warning("alert %s: no case opened: %s", alert.pk, exc.message)
        Alert.objects.filter(pk=alert.pk).update(case_error=exc.message[:200])
        alert.case_error = exc.message[:200]
        return None
    Alert.objects.filter(pk=alert.pk).update(case=case, case_error="")
    alert.case, alert.case_error = case, ""
    return case


def _report_and_dispatch(alert: Alert) -> Case:
    outlet = alert.outlet
    enterprise = outlet.enterprise
    category = _category(alert.kind)
    if category is None:
        raise DomainError("category_missing", "案件分类“环境监管”未配置，无法立案")
    by = system_user_for(enterprise.town)
    urgent = alert.is_persistent or alert.kind == AlertKind.OFFLINE
    case = case_services.case_report(
        by=by,
        category=category,
        description=describe(alert),
        lat=outlet.latitude,
        lon=outlet.longitude,
        address=f"{enterprise.address} {outlet.code} {outlet.name}",
        urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
        source=Source.SENSOR,
    )
    case_services.case_file(case=case, by=by, note="在线监测预警自动立案")
    case.refresh_from_db()
    team = enforcement_team_for(enterprise.town)
    if case.state == State.FILED and team is not None:
        case_services.case_dispatch(case=case, to=team, by=by, note="派环境执法队伍核查")
    return case


def describe(alert: Alert) -> str:
    """The case description: who, where, what, how much, against which limit, since when."""
    outlet = alert.outlet
    start = alert.first_start.astimezone(rules.LOCAL_TZ)
    where = f"{outlet.enterprise.name} {outlet.code} {outlet.name}"
    head = f"【在线监测{alert.get_kind_display()}】{where}"
    what = alert.pollutant_name or "监测数据"
    parts = [head, f"监测点 {alert.point.mn}", f"{what}自 {start:%Y-%m-%d %H:%M} 起"]
    if alert.worst_value is not None:
        parts.append(f"最不利值 {alert.worst_value:g} {alert.unit}".rstrip())
    if alert.limit_text:
        parts.append(f"限值 {alert.limit_text} {alert.unit}（{alert.basis}）".rstrip())
    if alert.kind == AlertKind.EXCEEDANCE:
        parts.append(f"最长连续超标 {alert.max_consecutive} 个时段")
    return "；".join(parts)


# ---------------------------------------------------------------- resolution


def alerts_resolve(*, now: datetime | None = None) -> int:
    """Resolve every open alert whose case is closed, rejected or merged; retry cases that
    could not be opened. Returns how many alerts were resolved."""
    now = now or clock.now()
    done = Alert.objects.filter(status=AlertStatus.OPEN, case__state__in=CLOSED_STATES)
    resolved = 0
    for alert in done.select_related("case"):
        assert alert.case is not None
        reason = f"案件{alert.case.number}{alert.case.get_state_display()}"
        resolved += Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.RESOLVED,
            resolved_at=alert.case.closed_at or alert.case.updated_at or now,
            resolution=reason[:100],
            updated_at=now,
        )
    return resolved


def alerts_retry_cases(*, older_than: timedelta = timedelta(0)) -> int:
    """Open the cases of open alerts that have none yet (e.g. the categories were missing)."""
    cutoff = clock.now() - older_than
    waiting = Alert.objects.filter(
        status=AlertStatus.OPEN, case__isnull=True, created_at__lte=cutoff
    ).values_list("pk", "outlet_id")
    opened = 0
    for alert_id, outlet_id in list(waiting):
        with transaction.atomic():
            if not claim_outlet(outlet_id):
                continue
            alert = Alert.objects.select_related("outlet__enterprise__town", "point").get(
                pk=alert_id
            )
            if alert.case_id is None and alert.status == AlertStatus.OPEN:
                opened += alert_open_case(alert=alert) is not None
    return opened


def claim_outlets(outlet_ids: list[int]) -> list[int]:
    """The outlets of the list this transaction could take (all of them on SQLite)."""
    if connection.vendor != "postgresql" or not outlet_ids:
        return list(outlet_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM unnest(%s::bigint[]) AS id"
            " WHERE pg_try_advisory_xact_lock(%s, id::int)",
            [outlet_ids, _LOCK_NAMESPACE],
        )
        return [row[0] for row in cursor.fetchall()]


def open_alerts_by_outlet(outlet_ids: list[int]) -> dict[int, dict[tuple[str, str], Alert]]:
    found: dict[int, dict[tuple[str, str], Alert]] = defaultdict(dict)
    for alert in Alert.objects.filter(outlet_id__in=outlet_ids, status=AlertStatus.OPEN):
        found[alert.outlet_id][(alert.kind, alert.code)] = alert
    return found


def claim_outlet(outlet_id: int) -> bool:
    """Take the outlet for the current transaction; False if another worker holds it."""
    if connection.vendor != "postgresql":
        return True  # SQLite has one writer at a time
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, outlet_id])
        row = cursor.fetchone()
    return bool(row and row[0])
