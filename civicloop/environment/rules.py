"""Exceedance and abnormal-data rules on series of hourly or daily values. Pure: no Django.

environment-standards.md §5: air outlets are judged on valid hourly means (≥ 45 minutes of
valid data, corrected to the reference O2), water outlets on valid daily means, pH on each
value; data flagged invalid (F M D C B …, MEE 2022 No. 21 marking) are never used. The
abnormal-data detectors follow §5.4; their parameters are platform conventions, not national
rules, and live in `Thresholds` so they can be set per outlet or pollutant.

A series is a sequence of `Sample`s (interval start, value, flag) in time order, one per hour
or per day. Times are aware datetimes; a local day is 24 hours long in Asia/Shanghai.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from civicloop.monitoring.rollups import LOCAL_TZ, is_valid_flag, normalize_flag

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# HJ 212 flags that mean "the instrument is not measuring" (stopped, fault, maintenance,
# calibration): allowed for a while, an abnormality when they last too long.
OUT_OF_SERVICE_FLAGS = frozenset({"F", "D", "M", "C"})


class FindingKind(StrEnum):
    EXCEEDANCE = "exceedance"
    ZERO = "zero"
    NEGATIVE = "negative"
    CONSTANT = "constant"
    JUMP = "jump"
    OVER_RANGE = "over_range"
    MISSING = "missing"
    OFFLINE = "offline"
    FLAG_TOO_LONG = "flag_too_long"


@dataclass(frozen=True, slots=True)
class Sample:
    start: datetime
    value: float | None
    flag: str = ""

    @property
    def is_valid(self) -> bool:
        return self.value is not None and is_valid_flag(self.flag)


@dataclass(frozen=True, slots=True)
class Limit:
    """A concentration limit: values above `high` (or below `low`, for pH) exceed it."""

    high: float | None
    low: float | None = None

    def exceeded_by(self, value: float) -> bool:
        above = self.high is not None and value > self.high
        below = self.low is not None and value < self.low
        return above or below

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{_fmt(self.low)}～{_fmt(self.high)}"
        if self.high is not None:
            return f"≤{_fmt(self.high)}"
        return f"≥{_fmt(self.low)}" if self.low is not None else ""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    code: str  # pollutant code; "" for the whole monitoring point
    start: datetime  # start of the first period
    end: datetime  # end of the last period (exclusive)
    count: int  # periods in the run (hours or days)
    value: float | None = None  # the worst value of the run
    limit: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "code": self.code,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "count": self.count,
            "value": self.value,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Detector parameters (environment-standards.md §5.4 defaults)."""

    zero_hours: int = 4
    constant_hours_water: int = 12
    constant_hours_air: int = 6
    constant_band_hours: int = 24  # "range within 2 % of the span for ≥ 24 h"
    constant_band_fraction: float = 0.02
    jump_window: int = 24  # previous hourly changes for the rolling MAD
    jump_factor: float = 10.0
    jump_floor_fraction: float = 0.05  # MAD floor, as a fraction of the median level
    missing_grace: timedelta = timedelta(minutes=15)
    offline_after: timedelta = timedelta(minutes=30)
    out_of_service_hours: int = 8
    persistent_hours: int = 3  # 连续超标: ≥ 3 consecutive exceeding hours …
    persistent_days: int = 2  # … or exceeding hours on ≥ 2 days within 7 days


DEFAULT_THRESHOLDS = Thresholds()


def _fmt(value: float) -> str:
    return f"{value:g}"


# ---------------------------------------------------------------- helpers


def o2_corrected(measured: float, measured_o2: float, reference_o2: float) -> float | None:
    """GB 13271—2014 formula (1): ρ = ρ′ × (21 − φ(O2)) / (21 − φ′(O2)).

    None when the measured O2 is 21 % or more (no combustion gas to correct).
    """
    if measured_o2 >= 21:
        return None
    return measured * (21 - reference_o2) / (21 - measured_o2)


def runs(
    samples: Sequence[Sample], matches: Iterable[bool], step: timedelta
) -> Iterator[list[Sample]]:
    """Maximal runs of consecutive periods (no gap in time) whose `matches` is true."""
    run: list[Sample] = []
    for sample, hit in zip(samples, matches, strict=True):
        adjacent = bool(run) and sample.start - run[-1].start == step
        if hit and (adjacent or not run):
            run.append(sample)
            continue
        if run:
            yield run
        run = [sample] if hit else []
    if run:
        yield run


def _finding(
    kind: FindingKind,
    code: str,
    run: Sequence[Sample],
    step: timedelta,
    *,
    worst: float | None = None,
    limit: str = "",
) -> Finding:
    return Finding(kind, code, run[0].start, run[-1].start + step, len(run), worst, limit)


# ---------------------------------------------------------------- exceedance


LimitAt = Callable[[datetime], "Limit | None"]


def exceedances(
    code: str, samples: Sequence[Sample], limit: Limit | LimitAt, *, step: timedelta
) -> list[Finding]:
    """Runs of valid values beyond the limit; invalid or missing periods break a run.

    `limit` is one limit, or a function giving the limit in force at a period's start (special
    periods and new editions change it from one day to the next).
    """
    limit_at = limit if callable(limit) else (lambda _start: limit)
    limits = [limit_at(s.start) for s in samples]
    hits = [
        s.is_valid and lim is not None and lim.exceeded_by(_value(s))
        for s, lim in zip(samples, limits, strict=True)
    ]
    by_start = {s.start: lim for s, lim in zip(samples, limits, strict=True)}
    findings = []
    for run in runs(samples, hits, step):
        worst = max(run, key=lambda s: _excess(s, by_start[s.start]))
        applied = by_start[worst.start]
        assert applied is not None
        findings.append(
            _finding(
                FindingKind.EXCEEDANCE,
                code,
                run,
                step,
                worst=worst.value,
                limit=applied.describe(),
            )
        )
    return findings


def _excess(sample: Sample, limit: Limit | None) -> float:
    """How far beyond the limit a value is, relative to the limit (for picking the worst)."""
    value = _value(sample)
    if limit is None:
        return 0.0
    if limit.high is not None and value > limit.high:
        return (value - limit.high) / (abs(limit.high) or 1.0)
    if limit.low is not None and value < limit.low:
        return (limit.low - value) / (abs(limit.low) or 1.0)
    return 0.0


def is_persistent(
    findings: Sequence[Finding], *, step: timedelta, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> bool:
    """连续超标: a run of ≥ 3 exceeding hours, or exceedances on ≥ 2 local days within 7."""
    if step == HOUR and any(f.count >= thresholds.persistent_hours for f in findings):
        return True
    days = sorted({local_day(f.start + n * step) for f in findings for n in range(f.count)})
    return any(
        sum(1 for other in days if 0 <= (other - day).days < 7) >= thresholds.persistent_days
        for day in days
    )


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def _value(sample: Sample) -> float:
    assert sample.value is not None
    return sample.value


# ---------------------------------------------------------------- abnormal data


def negatives(code: str, samples: Sequence[Sample], *, step: timedelta) -> list[Finding]:
    hits = [s.value is not None and s.value < 0 for s in samples]
    return [
        _finding(FindingKind.NEGATIVE, code, run, step, worst=min(_value(s) for s in run))
        for run in runs(samples, hits, step)
    ]


def zeros(
    code: str,
    samples: Sequence[Sample],
    *,
    step: timedelta,
    running: Sequence[bool] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """≥ 4 h of exact zeros while the process runs (flow > 0, when a flow series is given)."""
    flow_ok = running if running is not None else [True] * len(samples)
    hits = [s.is_valid and s.value == 0 and ok for s, ok in zip(samples, flow_ok, strict=True)]
    return [
        _finding(FindingKind.ZERO, code, run, step, worst=0.0)
        for run in runs(samples, hits, step)
        if len(run) >= thresholds.zero_hours
    ]


def constants(
    code: str,
    samples: Sequence[Sample],
    *,
    step: timedelta,
    min_count: int,
    span: float | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """恒值: ≥ `min_count` identical consecutive valid non-zero values, or (with the instrument
    span) values inside 2 % of the span for ≥ 24 h."""
    findings = []
    for run in _equal_runs(samples, step):
        if len(run) >= min_count:
            findings.append(_finding(FindingKind.CONSTANT, code, run, step, worst=run[0].value))
    if span:
        findings.extend(_banded(code, samples, step, span, thresholds))
    return _merged(findings)


def _equal_runs(samples: Sequence[Sample], step: timedelta) -> Iterator[list[Sample]]:
    run: list[Sample] = []
    for sample in samples:
        usable = sample.is_valid and sample.value != 0
        same = bool(run) and sample.value == run[-1].value and sample.start - run[-1].start == step
        if usable and same:
            run.append(sample)
            continue
        if run:
            yield run
        run = [sample] if usable else []
    if run:
        yield run


def _banded(
    code: str, samples: Sequence[Sample], step: timedelta, span: float, thresholds: Thresholds
) -> list[Finding]:
    width = thresholds.constant_band_hours * HOUR // step
    band = thresholds.constant_band_fraction * span
    findings: list[Finding] = []
    for run in runs(samples, [s.is_valid for s in samples], step):
        for at in range(0, len(run) - width + 1):
            window = run[at : at + width]
            values = [_value(s) for s in window]
            if max(values) - min(values) <= band and min(values) != 0:
                findings.append(
                    _finding(FindingKind.CONSTANT, code, window, step, worst=values[-1])
                )
    return _merged(findings)


def _merged(findings: list[Finding]) -> list[Finding]:
    """Overlapping or touching findings (of one kind and code) merged into one."""
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: f.start):
        last = merged[-1] if merged else None
        if last is None or finding.start > last.end:
            merged.append(finding)
            continue
        step = (last.end - last.start) / last.count
        end = max(last.end, finding.end)
        count = round((end - last.start) / step)
        merged[-1] = Finding(last.kind, last.code, last.start, end, count, finding.value)
    return merged


def jumps(
    code: str,
    samples: Sequence[Sample],
    *,
    step: timedelta,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """突变: a change between consecutive valid periods larger than k × the rolling median
    absolute deviation of the previous changes (floored at 5 % of the median level)."""
    valid = [s for s in samples if s.is_valid]
    findings = []
    for index in range(thresholds.jump_window + 1, len(valid)):
        previous, current = valid[index - 1], valid[index]
        if current.start - previous.start != step:
            continue
        history = valid[index - thresholds.jump_window - 1 : index]
        if _is_jump(history, _value(current), thresholds):
            findings.append(_finding(FindingKind.JUMP, code, [current], step, worst=current.value))
    return findings


def _is_jump(history: Sequence[Sample], value: float, thresholds: Thresholds) -> bool:
    levels = [_value(s) for s in history]
    changes = [b - a for a, b in itertools.pairwise(levels)]
    median_change = statistics.median(changes)
    mad = statistics.median(abs(c - median_change) for c in changes)
    floor = thresholds.jump_floor_fraction * abs(statistics.median(levels))
    scale = max(mad, floor)
    return scale > 0 and abs(value - levels[-1]) > thresholds.jump_factor * scale


def over_range(code: str, samples: Sequence[Sample], *, step: timedelta) -> list[Finding]:
    """超量程: flag T (the value is a lower bound of a reading above the measuring range)."""
    hits = [normalize_flag(s.flag) == "T" for s in samples]
    return [
        _finding(FindingKind.OVER_RANGE, code, run, step, worst=max(_value(s) for s in run))
        for run in runs(samples, hits, step)
        if all(s.value is not None for s in run)
    ]


def out_of_service(
    code: str,
    samples: Sequence[Sample],
    *,
    step: timedelta,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """Flags F/D/M/C for longer than the allowed window (default 8 h)."""
    hits = [normalize_flag(s.flag) in OUT_OF_SERVICE_FLAGS for s in samples]
    limit = thresholds.out_of_service_hours * HOUR
    return [
        _finding(FindingKind.FLAG_TOO_LONG, code, run, step, limit=normalize_flag(run[0].flag))
        for run in runs(samples, hits, step)
        if len(run) * step > limit
    ]


def missing_hours(
    present: Iterable[datetime],
    *,
    since: datetime,
    now: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """数据缺失: hours from `since` (an hour start) without an hourly record although the hour
    ended more than one hour (+ grace) ago: the 1-hour reporting duty."""
    have = set(present)
    expected: list[Sample] = []
    at = since
    while at + 2 * HOUR + thresholds.missing_grace <= now:
        expected.append(Sample(at, None))
        at += HOUR
    hits = [s.start not in have for s in expected]
    return [_finding(FindingKind.MISSING, "", run, HOUR) for run in runs(expected, hits, HOUR)]


def offline(
    last_seen_at: datetime | None,
    *,
    now: datetime,
    since: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Finding | None:
    """断线/脱机: no frame for 30 minutes or more (or never since `since`)."""
    silent_from = last_seen_at or since
    if now - silent_from < thresholds.offline_after:
        return None
    return Finding(FindingKind.OFFLINE, "", silent_from, now, 1)


# ---------------------------------------------------------------- evidence


def evidence(
    samples: Sequence[Sample], finding: Finding, *, step: timedelta, margin: int = 6
) -> list[dict[str, Any]]:
    """The series around a finding (`margin` periods either side), as JSON-ready rows."""
    first = finding.start - margin * step
    last = finding.end + margin * step
    return [
        {"t": s.start.isoformat(), "v": s.value, "flag": s.flag}
        for s in samples
        if first <= s.start < last
    ]
