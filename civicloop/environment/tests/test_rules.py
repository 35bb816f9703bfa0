"""The rules on hand-built series with known outcomes (environment-standards.md §5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from civicloop.environment import rules
from civicloop.environment.rules import DAY, HOUR, FindingKind, Limit, Sample
from civicloop.lib.clock import SHANGHAI

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=SHANGHAI)


def hourly(values: Sequence[float | None], flags: dict[int, str] | None = None) -> list[Sample]:
    flags = flags or {}
    return [Sample(T0 + i * HOUR, v, flags.get(i, "N")) for i, v in enumerate(values)]


def daily(values: list[float | None]) -> list[Sample]:
    return [Sample(T0 + i * DAY, v, "N") for i, v in enumerate(values)]


# ---------------------------------------------------------------- exceedance


def test_air_hourly_exceedances_and_consecutive_counts() -> None:
    series = hourly([40, 55, 60, 58, 45, 70, 48])
    found = rules.exceedances("a21002", series, Limit(50), step=HOUR)
    assert [(f.start, f.count, f.value) for f in found] == [
        (T0 + 1 * HOUR, 3, 60),
        (T0 + 5 * HOUR, 1, 70),
    ]
    assert found[0].end == T0 + 4 * HOUR
    assert found[0].limit == "≤50"
    assert rules.is_persistent(found, step=HOUR)  # 3 consecutive exceeding hours


def test_flagged_invalid_values_never_exceed_and_break_the_run() -> None:
    series = hourly([60, 60, 60, 60], flags={1: "M", 2: "D"})
    found = rules.exceedances("a34013", series, Limit(50), step=HOUR)
    assert [(f.start, f.count) for f in found] == [(T0, 1), (T0 + 3 * HOUR, 1)]
    assert not rules.is_persistent(found, step=HOUR)


def test_valid_marks_s_and_t_count_and_a_missing_hour_breaks_the_run() -> None:
    series = [Sample(T0, 60, "S"), Sample(T0 + HOUR, 61, "T"), Sample(T0 + 3 * HOUR, 62, "N")]
    found = rules.exceedances("a21026", series, Limit(50), step=HOUR)
    assert [f.count for f in found] == [2, 1]


def test_water_daily_means_and_two_days_in_seven() -> None:
    series = daily([90, 120, 80, 85, 130, 70, 60])
    found = rules.exceedances("w01018", series, Limit(100), step=DAY)
    assert [(f.start, f.count) for f in found] == [(T0 + DAY, 1), (T0 + 4 * DAY, 1)]
    assert rules.is_persistent(found, step=DAY)  # exceedances on 2 days within 7
    lone = rules.exceedances("w01018", daily([90, 120, 80]), Limit(100), step=DAY)
    assert not rules.is_persistent(lone, step=DAY)


def test_ph_is_judged_on_each_value_against_both_bounds() -> None:
    series = hourly([7.2, 5.8, 6.0, 9.0, 9.4, 8.0])
    found = rules.exceedances("w01001", series, Limit(9, 6), step=HOUR)
    assert [(f.start, f.value) for f in found] == [(T0 + HOUR, 5.8), (T0 + 4 * HOUR, 9.4)]
    assert found[0].limit == "6～9"


def test_the_limit_in_force_each_day() -> None:
    # A special period from the second day on: 30 instead of 50.
    def limit_at(at: datetime) -> Limit:
        return Limit(30 if at >= T0 + DAY else 50)

    series = [Sample(T0 + 20 * HOUR + i * HOUR, 40, "N") for i in range(8)]
    found = rules.exceedances("a34013", series, limit_at, step=HOUR)
    assert [(f.start, f.count) for f in found] == [(T0 + DAY, 4)]


def test_o2_correction_gb13271() -> None:
    assert rules.o2_corrected(25, 9, 3.5) == pytest.approx(36.4583, abs=1e-4)
    assert rules.o2_corrected(40, 12, 9) == pytest.approx(53.3333, abs=1e-4)
    assert rules.o2_corrected(40, 21, 9) is None


# ---------------------------------------------------------------- abnormal data


def test_constant_values_water_12_hours_air_6() -> None:
    water = hourly([20.0] * 12 + [21.0])
    found = rules.constants("w01018", water, step=HOUR, min_count=12)
    assert [(f.kind, f.start, f.count) for f in found] == [(FindingKind.CONSTANT, T0, 12)]
    assert rules.constants("w01018", hourly([20.0] * 11 + [21.0]), step=HOUR, min_count=12) == []
    air = hourly([5.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 9.0])
    assert [f.count for f in rules.constants("a21026", air, step=HOUR, min_count=6)] == [6]


def test_constant_within_two_percent_of_the_span() -> None:
    wobble = hourly([50.0 + (0.5 if i % 2 else 0.0) for i in range(26)])
    found = rules.constants("w01018", wobble, step=HOUR, min_count=12, span=100.0)
    assert len(found) == 1
    assert (found[0].start, found[0].count) == (T0, 26)
    assert rules.constants("w01018", wobble, step=HOUR, min_count=12, span=10.0) == []


def test_zero_values_for_four_hours_while_flowing() -> None:
    series = hourly([3.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    assert [(f.start, f.count) for f in rules.zeros("w21003", series, step=HOUR)] == [
        (T0 + HOUR, 4)
    ]
    stopped = [True, True, True, False, True, True]  # no flow in hour 3: not a 4-hour run
    assert rules.zeros("w21003", series, step=HOUR, running=stopped) == []
    assert rules.zeros("w21003", hourly([0.0, 0.0, 0.0, 1.0]), step=HOUR) == []


def test_negative_values() -> None:
    found = rules.negatives("w01018", hourly([5.0, -0.4, -1.2, 3.0]), step=HOUR)
    assert [(f.start, f.count, f.value) for f in found] == [(T0 + HOUR, 2, -1.2)]


def test_sudden_jump_against_the_rolling_mad() -> None:
    steady = [30.0 + (i % 3) for i in range(30)]
    series = hourly([*steady, 180.0, 31.0])
    found = rules.jumps("w01018", series, step=HOUR)
    assert [f.start for f in found] == [T0 + 30 * HOUR, T0 + 31 * HOUR]
    assert found[0].value == 180.0
    assert rules.jumps("w01018", hourly([*steady, 40.0]), step=HOUR) == []


def test_over_range_flag() -> None:
    found = rules.over_range(
        "a34013", hourly([10.0, 200.0, 200.0, 12.0], {1: "T", 2: "T"}), step=HOUR
    )
    assert [(f.start, f.count, f.value) for f in found] == [(T0 + HOUR, 2, 200.0)]


def test_fault_maintenance_calibration_flags_too_long() -> None:
    flags = {i: "D" for i in range(2, 11)}  # 9 hours of D
    found = rules.out_of_service("w01018", hourly([20.0] * 12, flags), step=HOUR)
    assert [(f.start, f.count, f.limit) for f in found] == [(T0 + 2 * HOUR, 9, "D")]
    eight = {i: "M" for i in range(8)}
    assert rules.out_of_service("w01018", hourly([20.0] * 10, eight), step=HOUR) == []


def test_missing_hours_after_the_reporting_delay() -> None:
    present = [T0, T0 + HOUR, T0 + 4 * HOUR]
    now = T0 + 7 * HOUR + timedelta(minutes=20)
    found = rules.missing_hours(present, since=T0, now=now)
    # hours 2–3 and 5 are missing; hour 6 ended at 07:00, not yet 1 h + 15 min ago.
    assert [(f.start, f.count) for f in found] == [(T0 + 2 * HOUR, 2), (T0 + 5 * HOUR, 1)]


def test_offline_after_thirty_minutes() -> None:
    now = T0 + 5 * HOUR
    assert rules.offline(now - timedelta(minutes=29), now=now, since=T0) is None
    finding = rules.offline(now - timedelta(minutes=31), now=now, since=T0)
    assert finding is not None and finding.kind == FindingKind.OFFLINE
    never = rules.offline(None, now=now, since=T0)
    assert never is not None and never.start == T0


def test_evidence_is_the_series_around_the_finding() -> None:
    series = hourly([float(v) for v in range(20)])
    finding = rules.Finding(FindingKind.EXCEEDANCE, "x", T0 + 10 * HOUR, T0 + 11 * HOUR, 1)
    rows = rules.evidence(series, finding, step=HOUR, margin=2)
    assert [row["v"] for row in rows] == [8.0, 9.0, 10.0, 11.0, 12.0]
    assert rows[0]["t"] == (T0 + 8 * HOUR).isoformat()
