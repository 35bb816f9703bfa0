from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from civicloop.lib.clock import frozen
from civicloop.monitoring.models import (
    CrcVariant,
    FacilityStatus,
    FacilityStatusKind,
    FrameVerdict,
    MonitoringPoint,
    PointStatus,
    ProtocolEdition,
    RawFrame,
    Reading,
    ReadingKind,
    ReadingSource,
    RejectReason,
    SiteInfo,
)
from civicloop.monitoring.tests.conftest import T0
from civicloop.monitoring.writer import (
    PointAuth,
    RawFrameRow,
    ReadingRow,
    SiteInfoRow,
    StatusRow,
    WriteBatch,
    point_lookup,
    record_protocol_edition,
    store_batch,
    store_raw_frames,
    store_readings,
    store_site_info,
    store_status,
)

RAW = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)


def minute_rows(point: MonitoringPoint) -> list[ReadingRow]:
    return [
        ReadingRow(
            point_id=point.pk,
            kind=ReadingKind.MINUTE,
            code="w01018",
            data_time=T0,
            avg=25.5,
            min=24.0,
            max=27.25,
            cou=1.5,
            flag="N",
        ),
        ReadingRow(
            point_id=point.pk, kind=ReadingKind.MINUTE, code="w00000", data_time=T0, avg=3.0
        ),
        ReadingRow(
            point_id=point.pk,
            kind=ReadingKind.MINUTE,
            code="w21003",
            data_time=T0,
            avg=0.5,
            flag="D",
            eflag="A01",
            sample_time=T0 - timedelta(minutes=5),
        ),
    ]


def test_store_readings_returns_number_of_new_rows(point):
    assert store_readings(minute_rows(point)) == 3
    assert Reading.objects.count() == 3


def test_store_readings_keeps_every_column(point):
    received = datetime(2024, 5, 1, 0, 1, 30, tzinfo=UTC)
    with frozen(received):
        store_readings(minute_rows(point))

    cod = Reading.objects.get(code="w01018")
    assert (cod.kind, cod.data_time, cod.avg, cod.min, cod.max, cod.cou) == (
        ReadingKind.MINUTE,
        T0,
        25.5,
        24.0,
        27.25,
        1.5,
    )
    assert (cod.rtd, cod.zs_avg, cod.flag, cod.source) == (None, None, "N", ReadingSource.DEVICE)
    assert cod.received_at == received
    nh3 = Reading.objects.get(code="w21003")
    assert (nh3.flag, nh3.eflag, nh3.sample_time) == ("D", "A01", T0 - timedelta(minutes=5))


def test_retransmission_is_idempotent(point):
    store_readings(minute_rows(point))
    retransmitted = [
        ReadingRow(
            point_id=point.pk, kind=ReadingKind.MINUTE, code="w01018", data_time=T0, avg=99.0
        ),
        *minute_rows(point)[1:],
    ]

    assert store_readings(retransmitted) == 0
    assert Reading.objects.count() == 3
    assert Reading.objects.get(code="w01018").avg == 25.5


def test_same_code_at_another_time_or_kind_is_a_new_row(point):
    store_readings(minute_rows(point))
    rows = [
        ReadingRow(
            point_id=point.pk,
            kind=ReadingKind.MINUTE,
            code="w01018",
            data_time=T0 + timedelta(minutes=1),
            avg=1.0,
        ),
        ReadingRow(
            point_id=point.pk, kind=ReadingKind.REALTIME, code="w01018", data_time=T0, rtd=2.0
        ),
    ]

    assert store_readings(rows) == 2
    assert Reading.objects.count() == 5


def test_duplicates_within_one_call_count_once_and_first_wins(point):
    row = minute_rows(point)[0]
    later = ReadingRow(point_id=point.pk, kind=row.kind, code=row.code, data_time=T0, avg=1.0)

    assert store_readings([row, later, row]) == 1
    assert list(Reading.objects.values_list("avg", flat=True)) == [25.5]


def test_unknown_codes_are_kept(point):
    rows = [
        ReadingRow(point_id=point.pk, kind=ReadingKind.REALTIME, code=code, data_time=T0, rtd=1.0)
        for code in ("pms_rules", "O3", "a05024", "801")
    ]

    assert store_readings(rows) == 4
    assert sorted(Reading.objects.values_list("code", flat=True)) == [
        "801",
        "O3",
        "a05024",
        "pms_rules",
    ]


def test_device_value_replaces_a_computed_one(point):
    computed = ReadingRow(
        point_id=point.pk,
        kind=ReadingKind.HOUR,
        code="w01018",
        data_time=T0,
        avg=20.0,
        source=ReadingSource.COMPUTED,
    )
    device = ReadingRow(
        point_id=point.pk, kind=ReadingKind.HOUR, code="w01018", data_time=T0, avg=21.0, flag="N"
    )
    store_readings([computed])

    assert store_readings([device]) == 1
    reading = Reading.objects.get()
    assert (reading.avg, reading.flag, reading.source) == (21.0, "N", ReadingSource.DEVICE)


def test_computed_value_never_replaces_a_device_one(point):
    device = ReadingRow(
        point_id=point.pk, kind=ReadingKind.HOUR, code="w01018", data_time=T0, avg=21.0
    )
    computed = ReadingRow(
        point_id=point.pk,
        kind=ReadingKind.HOUR,
        code="w01018",
        data_time=T0,
        avg=20.0,
        source=ReadingSource.COMPUTED,
    )
    store_readings([device])

    assert store_readings([computed]) == 0
    assert Reading.objects.get().avg == 21.0


def test_unchanged_computed_value_is_not_rewritten(point):
    computed = ReadingRow(
        point_id=point.pk,
        kind=ReadingKind.HOUR,
        code="w01018",
        data_time=T0,
        avg=20.0,
        source=ReadingSource.COMPUTED,
    )
    store_readings([computed])
    changed = ReadingRow(
        point_id=point.pk,
        kind=ReadingKind.HOUR,
        code="w01018",
        data_time=T0,
        avg=20.5,
        source=ReadingSource.COMPUTED,
    )

    assert store_readings([computed]) == 0
    assert store_readings([changed]) == 1
    assert Reading.objects.get().avg == 20.5


def test_two_calls_in_one_transaction_count_separately(point):
    rows = minute_rows(point)
    with transaction.atomic():
        first = store_readings(rows[:2])
        second = store_readings(rows)

    assert (first, second) == (2, 1)
    assert Reading.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_failing_call_stores_nothing(point):
    rows = [
        *minute_rows(point),
        ReadingRow(point_id=point.pk + 1000, kind=2051, code="x", data_time=T0),
    ]

    with pytest.raises(IntegrityError):
        store_readings(rows)
    assert Reading.objects.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"data_time": datetime(2024, 5, 1, 8, 0)},
        {"kind": 2021},
        {"code": ""},
        {"code": "x" * 33},
        {"flag": "TOO-LONG-"},
        {"avg": float("nan")},
        {"rtd": float("inf")},
        {"source": 3},
    ],
)
def test_bad_rows_are_refused_when_built(fields):
    values = {"point_id": 1, "kind": 2011, "code": "w01018", "data_time": T0} | fields
    with pytest.raises(ValueError):
        ReadingRow(**values)


def test_empty_call_writes_nothing(db):
    assert store_readings([]) == 0
    assert store_status([]) == 0
    assert store_site_info([]) == 0


def test_store_status_is_idempotent(point):
    rows = [
        StatusRow(
            point_id=point.pk, kind=FacilityStatusKind.RUN_STATE, code="SB1", data_time=T0, value=1
        ),
        StatusRow(
            point_id=point.pk, kind=FacilityStatusKind.RUN_STATE, code="SB2", data_time=T0, value=0
        ),
        StatusRow(
            point_id=point.pk,
            kind=FacilityStatusKind.RUN_HOURS,
            code="SB1",
            data_time=T0,
            value=23.5,
        ),
    ]

    assert store_status(rows) == 3
    assert store_status(rows) == 0
    assert sorted(FacilityStatus.objects.values_list("kind", "code", "value")) == [
        (2021, "SB1", 1.0),
        (2021, "SB2", 0.0),
        (2041, "SB1", 23.5),
    ]


def test_store_site_info_keeps_utf8_text(point):
    rows = [
        SiteInfoRow(
            point_id=point.pk, data_time=T0, pol_id="w01018", info_id="i11001", value="//清洗管路//"
        ),
        SiteInfoRow(point_id=point.pk, data_time=T0, pol_id="w01018", info_id="i12001", value="0"),
    ]

    assert store_site_info(rows) == 2
    assert store_site_info(rows) == 0
    assert SiteInfo.objects.get(info_id="i11001").value == "//清洗管路//"


def test_store_raw_frames_keeps_accepted_and_quarantined_frames(point):
    frames = [
        RawFrameRow(
            received_at=T0,
            raw=RAW,
            verdict=FrameVerdict.ACCEPTED,
            peer="10.0.0.8:50000",
            mn=point.mn,
            cn="1062",
            crc_variant=CrcVariant.STANDARD,
            point_id=point.pk,
        ),
        RawFrameRow(
            received_at=T0,
            raw=b"GET / HTTP/1.1\r\n",
            verdict=FrameVerdict.REJECTED,
            reason=RejectReason.BAD_HEADER,
            peer="203.0.113.9:40000",
        ),
        RawFrameRow(
            received_at=T0,
            raw=RAW,
            verdict=FrameVerdict.REJECTED,
            reason=RejectReason.UNKNOWN_MN,
            mn="M" * 80,
        ),
    ]

    assert store_raw_frames(frames) == 3
    accepted = RawFrame.objects.get(verdict=FrameVerdict.ACCEPTED)
    assert (bytes(accepted.raw), accepted.point, accepted.cn) == (RAW, point, "1062")
    assert RawFrame.objects.filter(point__isnull=True).count() == 2
    assert RawFrame.objects.get(reason=RejectReason.UNKNOWN_MN).mn == "M" * 64


@pytest.mark.parametrize(
    "fields",
    [
        {"verdict": FrameVerdict.ACCEPTED},  # accepted without a point
        {"verdict": FrameVerdict.ACCEPTED, "point_id": 1, "reason": RejectReason.CRC_MISMATCH},
        {"verdict": FrameVerdict.REJECTED},  # rejected without a reason
        {"verdict": FrameVerdict.REJECTED, "reason": "because"},
        {"verdict": "maybe"},
    ],
)
def test_inconsistent_frames_are_refused(fields):
    with pytest.raises(ValueError):
        RawFrameRow(received_at=T0, raw=RAW, **fields)


def test_point_lookup(make_point):
    point = make_point(mn="LD130133000015", password="abc123", crc_variant=CrcVariant.MODBUS)

    auth = point_lookup("LD130133000015")

    assert auth == PointAuth(
        point_id=point.pk,
        mn="LD130133000015",
        password="abc123",
        crc_variant="modbus",
        status="active",
        protocol_edition="unknown",
    )
    assert auth.password_matches("abc123")
    assert not auth.password_matches("abc124")
    assert not auth.is_disabled
    assert point_lookup("LD130133000016") is None


def test_record_protocol_edition(point):
    assert record_protocol_edition(point_id=point.pk, edition=ProtocolEdition.HJ212_2017)
    assert not record_protocol_edition(point_id=point.pk, edition=ProtocolEdition.HJ212_2017)
    assert not record_protocol_edition(point_id=point.pk, edition=ProtocolEdition.UNKNOWN)
    point.refresh_from_db()
    assert point.protocol_edition == "2017"
    with pytest.raises(ValueError):
        record_protocol_edition(point_id=point.pk, edition="2018")


def test_store_batch_writes_everything_and_marks_the_point_seen(point):
    point.status = PointStatus.OFFLINE
    point.save(update_fields=["status"])
    received = T0 + timedelta(seconds=40)
    batch = WriteBatch(
        frames=[
            RawFrameRow(
                received_at=received,
                raw=RAW,
                verdict=FrameVerdict.ACCEPTED,
                mn=point.mn,
                cn="2051",
                point_id=point.pk,
            )
        ],
        readings=minute_rows(point),
        statuses=[StatusRow(point_id=point.pk, kind=2021, code="SB1", data_time=T0, value=1)],
        site_infos=[SiteInfoRow(point_id=point.pk, data_time=T0, info_id="i12001", value="0")],
        editions={point.pk: ProtocolEdition.HJ212_2017},
    )

    result = store_batch(batch)

    assert (result.frames, result.readings, result.statuses, result.site_infos) == (1, 3, 1, 1)
    point.refresh_from_db()
    assert (point.last_seen_at, point.last_data_time) == (received, T0)
    assert (point.status, point.protocol_edition) == (PointStatus.ACTIVE, "2017")


def test_last_seen_and_last_data_time_never_move_back(point):
    def batch(at: datetime, data_time: datetime) -> WriteBatch:
        frame = RawFrameRow(received_at=at, raw=RAW, verdict="accepted", point_id=point.pk)
        reading = ReadingRow(
            point_id=point.pk, kind=2011, code="w01018", data_time=data_time, rtd=1
        )
        return WriteBatch(frames=[frame], readings=[reading])

    store_batch(batch(T0 + timedelta(hours=1), T0 + timedelta(minutes=50)))
    store_batch(batch(T0, T0 - timedelta(days=2)))  # a late history upload

    point.refresh_from_db()
    assert (point.last_seen_at, point.last_data_time) == (
        T0 + timedelta(hours=1),
        T0 + timedelta(minutes=50),
    )


def test_disabled_point_stays_disabled(point):
    point.status = PointStatus.DISABLED
    point.save(update_fields=["status"])
    frame = RawFrameRow(received_at=T0, raw=RAW, verdict="accepted", point_id=point.pk)

    store_batch(WriteBatch(frames=[frame]))

    point.refresh_from_db()
    assert point.status == PointStatus.DISABLED
    assert point_lookup(point.mn).is_disabled
