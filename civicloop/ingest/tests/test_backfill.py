"""Back-fill: a device back after a gap is asked for the minute and hourly data it kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from civicloop.ingest.backfill import BackfillSettings, HistoryWindow, plan_backfill
from civicloop.ingest.simulator import DeviceBehaviour, VirtualDevice, factor_value
from civicloop.ingest.tests.conftest import ingest_config
from civicloop.monitoring.models import MonitoringPoint, Reading, ReadingKind

SETTINGS = BackfillSettings(gap=timedelta(minutes=10), max_span=timedelta(hours=72))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_no_request_without_history_or_for_a_short_silence():
    first = at("2024-05-01 10:00:00")
    assert plan_backfill(None, first, SETTINGS) == []
    assert plan_backfill(first - timedelta(minutes=10), first, SETTINGS) == []
    disabled = BackfillSettings(enabled=False)
    assert plan_backfill(first - timedelta(hours=5), first, disabled) == []


def test_windows_cover_the_records_sent_during_the_silence():
    windows = plan_backfill(at("2024-05-01 10:20:30"), at("2024-05-01 14:05:10"), SETTINGS)

    assert windows == [
        # the 10:00 hour record is sent at 11:00, …, the 13:00 one at 14:00: all missed
        HistoryWindow("2061", at("2024-05-01 10:00"), at("2024-05-01 13:00")),
        HistoryWindow("2051", at("2024-05-01 10:20"), at("2024-05-01 14:04")),
    ]


def test_a_long_silence_is_capped():
    first = at("2024-05-20 00:00:00")
    windows = plan_backfill(at("2024-05-01 00:00:00"), first, SETTINGS)

    assert {window.begin for window in windows} == {first - timedelta(hours=72)}


def test_a_silence_within_the_hour_asks_only_for_minutes():
    windows = plan_backfill(at("2024-05-01 10:05:00"), at("2024-05-01 10:40:00"), SETTINGS)

    assert [window.cn for window in windows] == ["2051"]


@pytest.mark.parametrize("edition_index", [0, 2], ids=["2017", "2005"])
def test_a_device_back_after_a_gap_uploads_what_it_kept(live, specs, edition_index):
    spec = specs[edition_index]
    now = datetime.now(UTC).replace(microsecond=0)
    last = now - timedelta(minutes=95)
    MonitoringPoint.objects.filter(mn=spec.mn).update(last_data_time=last)
    service = live(ingest_config(backfill=SETTINGS))
    device = VirtualDevice(
        spec,
        host="127.0.0.1",
        port=service.port,
        behaviour=DeviceBehaviour(interval=0.5, ack_timeout=5),
        start_time=now,
    )

    async def run() -> None:
        task = asyncio.create_task(device.run(until=asyncio.get_running_loop().time() + 30))
        while service.metric("backfill_replies", cn="9012", rtn="1") < 2:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    service.stop()

    windows = plan_backfill(last, now, SETTINGS)
    minutes = next(window for window in windows if window.cn == "2051")
    expected = int((minutes.end - minutes.begin) / timedelta(minutes=1)) + 1
    codes = [code for code, _, _ in spec.factors]
    stored = Reading.objects.filter(point__mn=spec.mn, kind=ReadingKind.MINUTE)
    assert stored.count() == expected * len(codes)
    first = stored.get(code=codes[0], data_time=minutes.begin)
    low, high = spec.factors[0][1:]
    assert first.avg == factor_value(spec.mn, codes[0], minutes.begin, low, high)
    hourly = next(window for window in windows if window.cn == "2061")
    hours = Reading.objects.filter(point__mn=spec.mn, kind=ReadingKind.HOUR, code=codes[0])
    assert hours.count() == int((hourly.end - hourly.begin) / timedelta(hours=1)) + 1
    assert device.stats.history_requests == 2
