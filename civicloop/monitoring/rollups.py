"""Minute → hour → day aggregation with the validity rules of the standards. Pure: no Django.

Rules (docs/monitoring.md, environment-standards.md §2.3 and §5.2):

* an hourly value needs ≥ 45 minutes of valid minute data in the clock hour (GB 3095 表4,
  HJ 75/76—2017); with a MinInterval of k minutes each valid record counts for k minutes;
* a daily value needs ≥ 20 valid hourly values in the Asia/Shanghai calendar day;
* values whose flag is not a valid flag (table below) are excluded from every statistic;
* avg is the arithmetic mean of the valid values, min/max the extremes, cou the sum (Cou is an
  amount in the interval: flow volume or emission, so it adds up).

Hours and days are local (Asia/Shanghai) periods; all datetimes in and out are aware.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MIN_VALID_MINUTES_PER_HOUR = 45
MIN_VALID_HOURS_PER_DAY = 20

# HJ 212-2017 表8 and HJ/T 212-2005 flags, handled as environment-standards.md §5.3 says:
# N normal; S manually entered value (valid, marked for review); T above the measuring range
# (valid, the value is a lower bound); 2005 air-station flags 3 normal and 1 meteorological.
# A missing flag counts as normal: most devices send no Flag with real-time values.
# Invalid: F stopped, M maintenance, D fault, C calibration, B communication failure, P power
# failure (2005), 0 calibration and 2 abnormal (2005 air), and any flag we do not know.
VALID_FLAGS = frozenset({"", "N", "S", "T", "3", "1"})
# Valid flags that an aggregate inherits, most significant first; otherwise it is "N".
MARKED_FLAGS = ("T", "S")
AGGREGATE_FIELDS = ("avg", "min", "max", "cou", "zs_avg", "zs_min", "zs_max")


def normalize_flag(flag: str) -> str:
    return flag.strip().upper()


def is_valid_flag(flag: str) -> bool:
    return normalize_flag(flag) in VALID_FLAGS


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One stored value of one code for one interval (a minute or an hour record)."""

    code: str
    start: datetime
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    cou: float | None = None
    zs_avg: float | None = None
    zs_min: float | None = None
    zs_max: float | None = None
    flag: str = ""

    @property
    def is_valid(self) -> bool:
        has_value = self.avg is not None or self.cou is not None
        return has_value and is_valid_flag(self.flag)


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    code: str
    start: datetime
    avg: float | None
    min: float | None
    max: float | None
    cou: float | None
    zs_avg: float | None
    zs_min: float | None
    zs_max: float | None
    flag: str
    valid_count: int
    valid_minutes: int


@dataclass(frozen=True, slots=True)
class Tolerance:
    """A computed and a device value differ when |a − b| > max(absolute, relative × |b|)."""

    relative: float = 0.01
    absolute: float = 1e-6

    def exceeded(self, computed: float, device: float) -> bool:
        return abs(computed - device) > max(self.absolute, self.relative * abs(device))


@dataclass(frozen=True, slots=True)
class Difference:
    code: str
    start: datetime
    field: str
    computed: float
    device: float


def hour_start(at: datetime) -> datetime:
    local = at.astimezone(LOCAL_TZ)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def day_start(at: datetime) -> datetime:
    local = at.astimezone(LOCAL_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def roll_up_hours(
    samples: Iterable[Sample],
    *,
    interval_minutes: int,
    min_minutes: int = MIN_VALID_MINUTES_PER_HOUR,
) -> list[Aggregate]:
    """Hourly values from minute records; hours short of `min_minutes` valid minutes are left out.

    A record counts for the device's MinInterval, or for the smallest spacing between records
    of the hour if that is smaller, so a wrongly configured interval can only undercount.
    """
    result = []
    for (code, start), members in _group(samples, hour_start):
        minutes_each = _effective_interval(members, interval_minutes)
        aggregate = _aggregate(code, start, members, minutes_each=minutes_each)
        if aggregate.valid_minutes >= min_minutes:
            result.append(aggregate)
    return result


def roll_up_days(
    samples: Iterable[Sample], *, min_hours: int = MIN_VALID_HOURS_PER_DAY
) -> list[Aggregate]:
    """Daily values from hourly records; days short of `min_hours` valid hours are left out."""
    result = []
    for (code, start), members in _group(samples, day_start):
        aggregate = _aggregate(code, start, members, minutes_each=60)
        if aggregate.valid_count >= min_hours:
            result.append(aggregate)
    return result


def compare(
    computed: Iterable[Aggregate],
    device: Iterable[Sample],
    *,
    tolerance: Tolerance | None = None,
) -> list[Difference]:
    """Where a device-sent value and the computed one differ beyond the tolerance.

    Only periods and fields that both sides have are compared.
    """
    tolerance = tolerance or Tolerance()
    sent = {(sample.code, sample.start): sample for sample in device}
    differences = []
    for aggregate in computed:
        sample = sent.get((aggregate.code, aggregate.start))
        if sample is not None:
            differences.extend(_field_differences(aggregate, sample, tolerance))
    return differences


def _field_differences(
    aggregate: Aggregate, sample: Sample, tolerance: Tolerance
) -> list[Difference]:
    differences = []
    for name in AGGREGATE_FIELDS:
        computed, device = getattr(aggregate, name), getattr(sample, name)
        if computed is None or device is None or not tolerance.exceeded(computed, device):
            continue
        differences.append(Difference(aggregate.code, aggregate.start, name, computed, device))
    return differences


def _group(
    samples: Iterable[Sample], period_start: Callable[[datetime], datetime]
) -> list[tuple[tuple[str, datetime], list[Sample]]]:
    groups: defaultdict[tuple[str, datetime], list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.code, period_start(sample.start))].append(sample)
    return sorted(groups.items(), key=lambda item: (item[0][1], item[0][0]))


def _effective_interval(members: Sequence[Sample], configured: int) -> int:
    times = sorted(member.start for member in members)
    gaps = [int((b - a) / timedelta(minutes=1)) for a, b in itertools.pairwise(times)]
    return min([configured, *(gap for gap in gaps if gap > 0)])


def _aggregate(
    code: str, start: datetime, members: Sequence[Sample], *, minutes_each: int
) -> Aggregate:
    valid = [member for member in members if member.is_valid]
    return Aggregate(
        code=code,
        start=start,
        avg=_mean(member.avg for member in valid),
        min=_min(_first(member.min, member.avg) for member in valid),
        max=_max(_first(member.max, member.avg) for member in valid),
        cou=_sum(member.cou for member in valid),
        zs_avg=_mean(member.zs_avg for member in valid),
        zs_min=_min(_first(member.zs_min, member.zs_avg) for member in valid),
        zs_max=_max(_first(member.zs_max, member.zs_avg) for member in valid),
        flag=_aggregate_flag(member.flag for member in valid),
        valid_count=len(valid),
        valid_minutes=len(valid) * minutes_each,
    )


def _aggregate_flag(flags: Iterable[str]) -> str:
    seen = {normalize_flag(flag) for flag in flags}
    return next((flag for flag in MARKED_FLAGS if flag in seen), "N")


def _present(values: Iterable[float | None]) -> list[float]:
    return [value for value in values if value is not None]


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _mean(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return math.fsum(present) / len(present) if present else None


def _sum(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return math.fsum(present) if present else None


def _min(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return min(present) if present else None


def _max(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return max(present) if present else None
