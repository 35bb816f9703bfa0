from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from civicloop.lib.clock import frozen
from civicloop.monitoring.models import FrameVerdict, RawFrame, RejectReason
from civicloop.monitoring.services import prune_raw_frames
from civicloop.monitoring.tests.conftest import T0
from civicloop.monitoring.writer import RawFrameRow, store_raw_frames

NOW = T0 + timedelta(days=365)


def frame(age: timedelta) -> RawFrameRow:
    return RawFrameRow(
        received_at=NOW - age,
        raw=b"##0000\r\n",
        verdict=FrameVerdict.REJECTED,
        reason=RejectReason.TRUNCATED,
    )


@pytest.fixture
def frames(db) -> None:
    ages = [timedelta(days=d) for d in (200, 91, 90, 89, 1)]
    store_raw_frames([frame(age + timedelta(seconds=1)) for age in ages])


def ages_left() -> list[int]:
    return sorted((NOW - at).days for at in RawFrame.objects.values_list("received_at", flat=True))


def test_prune_deletes_frames_older_than_the_setting(frames, settings):
    settings.MONITORING_RAW_RETENTION_DAYS = 90
    with frozen(NOW):
        assert prune_raw_frames() == 3
    assert ages_left() == [1, 89]


def test_retention_defaults_to_90_days(frames, settings):
    del settings.MONITORING_RAW_RETENTION_DAYS
    with frozen(NOW):
        assert prune_raw_frames() == 3
    assert ages_left() == [1, 89]


def test_prune_works_in_batches(frames):
    with frozen(NOW):
        assert prune_raw_frames(retention_days=2, batch_size=2) == 4
    assert ages_left() == [1]


def test_command_dry_run_deletes_nothing(frames, settings):
    settings.MONITORING_RAW_RETENTION_DAYS = 30
    out = StringIO()
    with frozen(NOW):
        call_command("prune_raw_frames", "--dry-run", stdout=out)
    assert out.getvalue() == "would delete 4 raw frames older than 30 days\n"
    assert RawFrame.objects.count() == 5


def test_command_deletes(frames):
    out = StringIO()
    with frozen(NOW):
        call_command("prune_raw_frames", "--days=100", stdout=out)
    assert out.getvalue() == "deleted 1 raw frames older than 100 days\n"
    assert ages_left() == [1, 89, 90, 91]


@pytest.mark.parametrize("days", [0, -5])
def test_a_retention_below_one_day_is_refused(frames, settings, days):
    settings.MONITORING_RAW_RETENTION_DAYS = days
    with pytest.raises(CommandError):
        call_command("prune_raw_frames", stdout=StringIO())
    assert RawFrame.objects.count() == 5
