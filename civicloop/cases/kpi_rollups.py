"""Per-day rollups of the indicator counters of settled cases (docs/kpis.md, "Rollups").

A case is *rolled* by the worker (`civicloop kpi_rollup --loop`) once it has been quiet in a final
state (closed, rejected, merged) for longer than any window in which it may still change by
itself (reopening and rating by the reporter, reinstating: `KPI_ROLLUP_QUIET_DAYS`), with every
stage clock stopped and every instant in the past. Rolling adds the counters of its rows (the
case, its stage clocks, its dispatch records) to `KpiRollup` rows keyed by family, local day of
the anchor, local day the row settled (kpis.SETTLE_FIELDS) and town, and sets
`kpi_settled_at` on the case, its clocks and its dispatch records to the latest of those
instants. A report (cases.kpis) then reads the sums of the rows that settled before its
evaluation instant and computes the other rows directly.

A case can still change after that (the centre reopens a closed case or records a 12345 回访 at
any time): every transition goes through `services._apply`, whose compare-and-swap does not
match a rolled case; it then locks the case, un-rolls it (`unroll`: subtracts what rolling
added, computed from the same rows, which have not changed since) and applies the change in
the same transaction. The worker rolls a case only under its row lock (`FOR UPDATE SKIP
LOCKED`, one transaction per batch), so two workers never roll one case twice and a case being
changed is skipped; the upserts (`n = n + excluded.n`) are sorted by key, so concurrent
batches take their row locks in one order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DateTimeField, Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest, TruncDate

from civicloop.cases import kpis
from civicloop.cases.models import (
    CLOSED_STATES,
    ROLLUP_COUNTERS,
    Case,
    CaseClock,
    Dispatch,
    KpiRollup,
)
from civicloop.lib import clock
from civicloop.lib.clock import SHANGHAI

KEY = ("family", "day", "settled", "city", "town")
COUNTERS = tuple(f"n{i}" for i in range(ROLLUP_COUNTERS))


def _fields(base: kpis.Base) -> tuple[str, ...]:
    """Every settle field of the families on this base row."""
    names = {n for c, f in kpis.FAMILIES.items() if f.base == base for n in kpis.SETTLE_FIELDS[c]}
    return tuple(sorted(names))


def quiet_days() -> int:
    """How long a case stays untouched in a final state before it is rolled: by default the
    longest window in which the reporter may still reopen, rate or have it reinstated."""
    return int(settings.KPI_ROLLUP_QUIET_DAYS)


def candidates(now: datetime) -> Any:
    """The cases to roll as of `now`: final, untouched for `quiet_days()`, not rolled, every
    instant past, no stage clock running and none with a deadline still ahead."""
    before_now = Q()
    for name in _fields(kpis.Base.CASE):
        before_now &= Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__lt": now})
    clock_pending = Q(stopped_at__isnull=True)
    for name in _fields(kpis.Base.CLOCK):
        clock_pending |= Q(**{f"{name}__gte": now})
    dispatch_pending = Q()
    for name in _fields(kpis.Base.DISPATCH):
        dispatch_pending |= Q(**{f"{name}__gte": now})
    return (
        Case.objects.filter(
            kpi_settled_at__isnull=True,
            state__in=CLOSED_STATES,
            updated_at__lt=now - timedelta(days=quiet_days()),
        )
        .filter(before_now)
        .exclude(Exists(CaseClock.objects.filter(clock_pending, case=OuterRef("pk"))))
        .exclude(Exists(Dispatch.objects.filter(dispatch_pending, case=OuterRef("pk"))))
    )


def _latest(model: type[Any], fields: tuple[str, ...]) -> Any:
    """The latest of these instants over the case's rows of `model` (null when it has none)."""
    if len(fields) == 1:
        latest: Any = F(fields[0])
    else:
        # Greatest is null when one argument is (SQLite): each falls back on the others.
        latest = Greatest(*(Coalesce(name, *[f for f in fields if f != name]) for name in fields))
    return Subquery(
        model.objects.filter(case=OuterRef("pk"))
        .values("case")
        .annotate(latest=Max(latest, output_field=DateTimeField()))
        .values("latest")[:1],
        output_field=DateTimeField(),
    )


def settle_expression() -> Any:
    """`Case.kpi_settled_at`: the latest settle field of every family (kpis.SETTLE_FIELDS) over
    the case, its stage clocks and its dispatch records, so that no row of the case settles
    after it."""
    base = F("reported_at")
    terms = [Coalesce(F(name), base) for name in _fields(kpis.Base.CASE)]
    terms.append(Coalesce(_latest(CaseClock, _fields(kpis.Base.CLOCK)), base))
    terms.append(Coalesce(_latest(Dispatch, _fields(kpis.Base.DISPATCH)), base))
    return Greatest(base, *terms, output_field=DateTimeField())


def _settles(family: kpis.Family) -> Any:
    """The instant a row of the family settles: the latest of its settle fields."""
    anchor = F(family.anchor)
    others = [Coalesce(F(n), anchor) for n in kpis.SETTLE_FIELDS[family.code] if n != family.anchor]
    if not others:
        return anchor
    return Greatest(anchor, *others, output_field=DateTimeField())


@dataclass(frozen=True)
class RollResult:
    cases: int = 0
    rows: int = 0


def roll(*, now: datetime | None = None, batch: int = 1000) -> RollResult:
    """Roll every case that is due (in transactions of `batch` cases, in id order)."""
    now = now or clock.now()
    cases = rows = 0
    after = 0
    while True:
        done, after = _roll_batch(now, batch, after)
        cases, rows = cases + done.cases, rows + done.rows
        if done.cases == 0:
            return RollResult(cases, rows)


@transaction.atomic
def _roll_batch(now: datetime, batch: int, after: int = 0) -> tuple[RollResult, int]:
    """Roll the next `batch` candidates with an id above `after`; the last id rolled. Rows
    another worker holds are skipped (it rolls them)."""
    ids = list(
        candidates(now)
        .filter(pk__gt=after)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return RollResult(), after
    Case.objects.filter(pk__in=ids).update(kpi_settled_at=settle_expression())
    case_mark = Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("kpi_settled_at")[:1])
    for model in (CaseClock, Dispatch):
        model.objects.filter(case_id__in=ids).update(kpi_settled_at=case_mark)
    return RollResult(len(ids), _add(ids, sign=1)), ids[-1]


def unroll(case_id: int) -> bool:
    """Take a case out of the rollups, before it changes: subtract what rolling added and clear
    its mark. The caller holds the case's row lock (services._apply). False if not rolled."""
    if not Case.objects.filter(pk=case_id, kpi_settled_at__isnull=False).exists():
        return False
    _add([case_id], sign=-1)
    Case.objects.filter(pk=case_id).update(kpi_settled_at=None)
    for model in (CaseClock, Dispatch):
        model.objects.filter(case_id=case_id).update(kpi_settled_at=None)
    return True


def rebuild(*, batch: int = 1000) -> RollResult:
    """Empty the rollups and mark every case as not rolled (after an indicator's definition
    changed, for instance); the worker then rolls them again."""
    with transaction.atomic():
        KpiRollup.objects.all().delete()
        for model in (Case, CaseClock, Dispatch):
            model.objects.filter(kpi_settled_at__isnull=False).update(kpi_settled_at=None)
    return roll(batch=batch)


def _add(ids: list[int], *, sign: int) -> int:
    """Add `sign ×` the counters of these cases' rows to the rollups, inside the database: one
    INSERT … SELECT … ON CONFLICT per family over its grouped query (nothing travels through
    Python). Families in one order and keys sorted within each, so concurrent writers take
    their row locks in one order. Returns the number of rollup rows written."""
    table = KpiRollup._meta.db_table
    updates = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in COUNTERS)
    written = 0
    with connection.cursor() as cursor:
        for code in sorted(kpis.FAMILIES):
            grouped, params = _counts(code, ids).query.sql_with_params()
            used = len(kpis.ROLLUP_LAYOUTS[code].conditions)
            # `sign` is ±1 from this module, never input: it is written into the SQL.
            counters = ", ".join(
                f"{int(sign)} * g.n{i}" if i < used else "0" for i in range(ROLLUP_COUNTERS)
            )
            cursor.execute(
                f"INSERT INTO {table} ({', '.join((*KEY, *COUNTERS))}) "
                f"SELECT %s, g.k_day, g.k_settled, g.k_city, g.k_town, {counters} "
                f"FROM ({grouped}) AS g WHERE true ORDER BY 2, 3, 4, 5 "
                f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}",
                [code, *params],
            )
            written += cursor.rowcount
    return written


def _counts(code: str, ids: list[int]) -> Any:
    """The counters of one family over the rows of these (rolled) cases, grouped by rollup key
    (columns k_day, k_settled, k_city, k_town, n0 … n<k>)."""
    family = kpis.FAMILIES[code]
    layout = kpis.ROLLUP_LAYOUTS[code]
    case = kpis.CASE_PATH[family.base]
    counts = {"n0": Count(family.anchor)}
    for i, condition in enumerate(layout.conditions[1:], start=1):
        counts[f"n{i}"] = Count(family.anchor, filter=condition)
    return (
        kpis.MODELS[family.base]
        ._default_manager.filter(**{f"{case}pk__in": ids})
        .filter(family.scope(kpis.ROLLED))
        .filter(**{f"{family.anchor}__isnull": False})
        .values(
            k_day=TruncDate(family.anchor, tzinfo=SHANGHAI),
            k_settled=TruncDate(_settles(family), tzinfo=SHANGHAI),
            k_city=Coalesce(F(f"{case}city"), 0),
            k_town=Coalesce(F(f"{case}town"), 0),
        )
        .annotate(**counts)
        .order_by()
    )
