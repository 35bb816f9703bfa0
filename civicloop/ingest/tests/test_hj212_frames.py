from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from civicloop.ingest.hj212 import (
    CodeEdition,
    CrcVariant,
    DecodedFrame,
    Deframer,
    Edition,
    ExeRtn,
    FrameError,
    FrameWarning,
    Hj212Error,
    QnRtn,
    Suffix,
    answer_for,
    build_cp,
    build_data_answer,
    build_execution_result,
    build_get_device_time,
    build_history_request,
    build_hourly_history_request,
    build_minute_history_request,
    build_notification_answer,
    build_request_answer,
    build_set_device_time,
    decode,
    encode_frame,
    frame_segment,
    make_qn,
    parse_hj_time,
)

DATA = Path(__file__).parent / "data" / "sample_packets.tsv"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "hj212" / "sample_packets.tsv"
STANDARD_EXAMPLE = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
MN_2017 = "010000A8900016F000169DC0"


class Sample(NamedTuple):
    source: str
    expected: str
    packet: bytes


def load_samples() -> list[Sample]:
    samples = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        source, expected, packet = line.split("\t")
        raw = packet.replace("\\r", "\r").replace("\\n", "\n").encode("utf-8")
        samples.append(Sample(source, expected, raw))
    return samples


SAMPLES = load_samples()


def verdict(frame: DecodedFrame) -> str:
    """The frame-level verdict in the vocabulary of sample_packets.tsv."""
    parts = []
    if FrameError.CRC_MISMATCH in frame.errors:
        parts.append("bad-crc")
    if FrameError.LENGTH_MISMATCH in frame.errors:
        parts.append("bad-length")
    if FrameWarning.MISSING_CRLF in frame.warnings:
        parts.append("no-crlf")
    if FrameWarning.BAD_TAIL in frame.warnings:
        parts.append("bad-tail")
    other = [error.value for error in frame.errors]
    parts += [error for error in other if error not in ("crc_mismatch", "length_mismatch")]
    return "+".join(parts) or "valid"


def only(frames: list[DecodedFrame]) -> DecodedFrame:
    assert len(frames) == 1
    return frames[0]


def sample(fragment: str) -> bytes:
    matches = [row.packet for row in SAMPLES if fragment in row.source]
    return matches[0]


# ---- the shared sample file ----------------------------------------------------------------


def test_sample_copy_has_every_row() -> None:
    assert len(SAMPLES) == 36
    assert {row.expected for row in SAMPLES} == {
        "valid",
        "bad-crc",
        "no-crlf",
        "bad-tail",
        "bad-length",
    }


@pytest.mark.skipif(not SHARED.exists(), reason="shared folder not checked out next to the repo")
def test_sample_copy_matches_the_shared_file() -> None:
    assert DATA.read_bytes() == SHARED.read_bytes()


@pytest.mark.parametrize(
    "row", SAMPLES, ids=[f"{i}-{row.expected}" for i, row in enumerate(SAMPLES)]
)
def test_every_sample_gets_its_verdict(row: Sample) -> None:
    frame = only(decode(row.packet))
    assert verdict(frame) == row.expected
    assert frame.message is not None
    assert frame.frame.offset == 0


def test_samples_in_one_stream_keep_their_verdicts() -> None:
    frames = decode(b"".join(row.packet for row in SAMPLES))
    assert [verdict(frame) for frame in frames] == [row.expected for row in SAMPLES]


def test_samples_fed_byte_by_byte_give_the_same_frames() -> None:
    stream = b"".join(row.packet for row in SAMPLES)
    deframer = Deframer()
    pieces = [raw for i in range(len(stream)) for raw in deframer.feed(stream[i : i + 1])]
    pieces += deframer.close()
    whole = Deframer()
    assert pieces == whole.feed(stream) + whole.close()
    assert len(pieces) == len(SAMPLES)


def test_bad_crc_samples_under_any_variant() -> None:
    variants = [only(decode(row.packet, crc="any")).crc_variant for row in SAMPLES]
    bad = [(i, variants[i]) for i, row in enumerate(SAMPLES) if row.expected == "bad-crc"]
    assert bad == [
        (0, None),
        (6, None),
        (17, CrcVariant.MODBUS_SWAPPED),
        (28, CrcVariant.MODBUS),
        (29, CrcVariant.MODBUS),
        (30, CrcVariant.MODBUS),
        (31, CrcVariant.MODBUS),
        (32, CrcVariant.MODBUS),
        (35, CrcVariant.MODBUS),
    ]


def test_modbus_mode_rejects_standard_frames() -> None:
    frame = only(decode(STANDARD_EXAMPLE, crc="modbus"))
    assert frame.error is FrameError.CRC_MISMATCH
    assert frame.crc_variant is None


def test_unknown_crc_mode_is_a_codec_error() -> None:
    with pytest.raises(Hj212Error):
        decode(STANDARD_EXAMPLE, crc="crc32")


# ---- header and edition --------------------------------------------------------------------


def test_standard_example_header() -> None:
    frame = only(decode(STANDARD_EXAMPLE))
    assert frame.ok
    assert frame.error is None
    assert frame.warnings == ()
    assert frame.crc_variant is CrcVariant.STANDARD
    assert (frame.qn, frame.st, frame.cn, frame.pw, frame.mn, frame.flag) == (
        "20160801085857223",
        "32",
        "1062",
        "100000",
        MN_2017,
        5,
    )
    assert frame.edition is Edition.HJ212_2017
    assert frame.cp.fields == {"RtdInterval": "30"}
    assert frame.data_time is None
    assert frame.message is not None and frame.message.is_ack_requested


def test_2005_upload_without_qn_or_flag() -> None:
    frame = only(decode(sample("T212ParserTest.java")))
    assert frame.ok
    assert frame.qn is None
    assert frame.flag is None
    assert frame.edition is Edition.HJT212_2005
    assert frame.code_edition is CodeEdition.HJT212_2005
    assert frame.data_time == datetime(2016, 8, 23, 16, 38, 17, tzinfo=UTC)
    assert frame.cp.pollutants == {
        "011": {"Rtd": "231.0", "Flag": "N"},
        "B01": {"Rtd": "36.91"},
        "060": {"Rtd": "1.803", "Flag": "N"},
    }
    assert FrameWarning.LOWERCASE_CRC in frame.warnings


def test_2005_framing_with_2017_codes() -> None:
    frame = only(decode(sample("GB212ReceiverApp")))
    assert frame.edition is Edition.HJT212_2005
    assert frame.code_edition is CodeEdition.HJ212_2017
    assert frame.cp.get("a34049", "Rtd") == "3817"


def test_mixed_code_lists() -> None:
    frame = only(decode(SAMPLES[17].packet, crc="any"))  # rx.log, 1025 bytes
    assert frame.code_edition is CodeEdition.MIXED
    assert frame.cp.get("a99949", "Rtd") == "2973.719"
    assert frame.cp.get("815", "Rtd") == "1456.821"
    assert FrameWarning.OVERSIZE in frame.warnings


def test_vendor_codes_are_kept() -> None:
    frame = only(decode(sample("teafull/hjt212:doc/testdata")))
    assert frame.code_edition is CodeEdition.HJ212_2017
    assert frame.cp.get("pms_rules", "Rtd") == "7"
    assert frame.cp.get("lng", "Rtd") == "120.32879"
    assert frame.cp.get("hot_t", "Flag") == "N"
    assert frame.mn == "aqms-1100-2020110011"


def test_split_packet_numbers_without_flag() -> None:
    frame = only(decode(sample("HJ212-Moniter")))
    assert frame.message is not None
    assert (frame.message.pnum, frame.message.pno) == (2, 2)
    assert frame.cp.pollutants["a01006"] == {
        "Avg": "101.85",
        "Min": "101.84",
        "Max": "101.87",
        "ValidNum": "10",
        "TotalNum": "10",
    }


def test_flag_serialized_after_cp() -> None:
    frame = only(decode(sample("issue xiaoyao9184/hj-t212-parser#22")))
    assert frame.flag == 0
    assert frame.cp.fields == {"SystemTime": "20201222115733", "PolId": "w01018"}
    assert FrameWarning.FIELDS_AFTER_CP in frame.warnings


def test_loose_suffix_joins_the_previous_code() -> None:
    frame = only(decode(sample("scada-distribute.log")))
    assert frame.cp.pollutants == {"a34001": {"Rtd": "92", "Flag": "N"}}
    assert frame.warnings == (FrameWarning.BAD_TAIL, FrameWarning.LOOSE_SUFFIX)


def test_sample_time_and_suffix_enum() -> None:
    frame = only(decode(SAMPLES[24].packet))  # fastadmin-super 2011 with SampleTime
    assert frame.cp.pollutants["w01018"] == {
        "SampleTime": "20240123110306",
        "Rtd": "4653.8",
        "Flag": "N",
    }
    suffixes = [item.suffix for item in frame.cp.items if item.code == "w01018"]
    assert suffixes == [Suffix.SAMPLE_TIME, Suffix.RTD, Suffix.FLAG]


def test_duplicate_keys_keep_the_first_and_warn() -> None:
    frame = only(decode(SAMPLES[6].packet))
    assert FrameWarning.DUPLICATE_KEY in frame.warnings
    assert [item.key for item in frame.cp.items[:3]] == ["DataTime", "a21-Rtd", "a21-Rtd"]


def test_17_digit_data_time_has_milliseconds() -> None:
    frame = only(decode(sample("chenqi92")))
    assert frame.data_time == datetime(2021, 3, 4, 16, 38, 17, tzinfo=UTC)
    assert parse_hj_time("20210305003817123") == datetime(
        2021, 3, 4, 16, 38, 17, 123000, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text", ["2021030500381", "20211305003817", "2021030500381x", "２０２１０３０５００３８１７"]
)
def test_bad_times_are_none(text: str) -> None:
    assert parse_hj_time(text) is None


def test_bad_data_time_is_a_warning() -> None:
    frame = only(decode(frame_segment("ST=32;CN=2011;CP=&&DataTime=2024-01-01&&")))
    assert frame.ok
    assert frame.data_time is None
    assert frame.warnings == (FrameWarning.BAD_DATATIME,)


def test_2005_reply_has_qn_inside_cp() -> None:
    frame = only(
        decode(
            build_request_answer(
                qn="20040516010101001",
                pw="123456",
                mn="88888880000001",
                edition=Edition.HJT212_2005,
            )
        )
    )
    assert frame.qn == "20040516010101001"
    assert frame.cp.fields == {"QN": "20040516010101001", "QnRtn": "1"}


def test_2025_and_unknown_versions() -> None:
    assert only(decode(frame_segment("ST=22;CN=9015;Flag=8;CP=&&&&"))).edition is Edition.HJ212_2025
    frame = only(decode(frame_segment("ST=22;CN=2011;Flag=252;CP=&&&&")))
    assert frame.edition is Edition.UNKNOWN
    assert frame.warnings == (FrameWarning.UNKNOWN_VERSION,)


def test_bad_flag_and_packet_numbers_are_warnings() -> None:
    frame = only(decode(frame_segment("ST=22;CN=2011;Flag=x;PNUM=a;PNO=1;CP=&&&&")))
    assert frame.ok
    assert frame.flag is None
    assert frame.warnings == (FrameWarning.BAD_FLAG, FrameWarning.BAD_PACKET_NUMBER)


def test_comma_between_header_fields() -> None:
    frame = only(decode(frame_segment("QN=20160801085857534,ST=32;CN=2011;Flag=4;CP=&&&&")))
    assert (frame.qn, frame.st) == ("20160801085857534", "32")


@pytest.mark.parametrize(
    "segment",
    ["ST=32;CN=2011;DataTime=1", "CN=2011;CP=&&&&", "ST=32;CP=&&&&", "ST=32;CN=2011;CP=&&&", ""],
)
def test_bad_segments_are_bad_header(segment: str) -> None:
    frame = only(decode(frame_segment(segment)))
    assert frame.error is FrameError.BAD_HEADER
    assert frame.message is None
    assert frame.crc_variant is CrcVariant.STANDARD


# ---- the data area -------------------------------------------------------------------------


def test_site_log_text_is_opaque() -> None:
    text = "//清洗管路;开始,第1步//"
    segment = (
        f"ST=32;CN=3020;Flag=4;CP=&&DataTime=20240123131000;i11001-Info={text};i12001-Info=1&&"
    )
    frame = only(decode(frame_segment(segment)))
    assert frame.ok
    assert frame.frame.declared_length == len(segment.encode("utf-8"))
    assert frame.cp.pollutants == {"i11001": {"Info": text}, "i12001": {"Info": "1"}}
    assert frame.cp.items[1].suffix is Suffix.INFO


def test_empty_and_blank_cp() -> None:
    assert only(decode(frame_segment("ST=32;CN=9021;CP=&&&&"))).cp.items == ()
    frame = only(decode(frame_segment("ST=32;CN=9021;CP=&& ;&&")))
    assert frame.cp.items == ()
    assert frame.warnings == ()


def test_item_without_equals_is_dropped_with_a_warning() -> None:
    frame = only(decode(frame_segment("ST=32;CN=2011;CP=&&DataTime=20240101000000;oops&&")))
    assert frame.cp.fields == {"DataTime": "20240101000000"}
    assert frame.warnings == (FrameWarning.BAD_CP_ITEM,)


def test_negative_and_long_values_are_kept_verbatim() -> None:
    frame = only(decode(sample("fastadmin-super:application/api/controller/Test.php")))
    assert frame.cp.get("a01013", "Min") == "-0.041"
    assert frame.cp.get("a00000", "Cou") == "19191.973"


# ---- stream framing ------------------------------------------------------------------------


def test_sticky_frames_with_garbage_and_http_scans() -> None:
    http = b"GET / HTTP/1.1\r\nHost: 1.2.3.4:9000\r\n\r\n"
    stream = http + STANDARD_EXAMPLE + b"\x00" * 7 + STANDARD_EXAMPLE + http + STANDARD_EXAMPLE
    deframer = Deframer()
    frames = deframer.feed(stream) + deframer.close()
    size = len(STANDARD_EXAMPLE)
    assert [frame.offset for frame in frames] == [38, 38 + size + 7, 38 + 2 * size + 7 + 38]
    assert [frame.skipped for frame in frames] == [38, 7, 38]
    assert all(frame.errors == () and frame.warnings == () for frame in frames)
    assert deframer.garbage_bytes == 38 * 2 + 7
    assert deframer.frames == 3
    assert deframer.buffered == 0


def test_split_frame_waits_for_the_rest() -> None:
    deframer = Deframer()
    assert deframer.feed(STANDARD_EXAMPLE[:50]) == []
    assert deframer.feed(STANDARD_EXAMPLE[50:-2]) == []  # the CRLF may still come
    frames = deframer.feed(STANDARD_EXAMPLE[-2:])
    assert [frame.raw for frame in frames] == [STANDARD_EXAMPLE]


def test_idle_emits_a_frame_that_never_gets_its_crlf() -> None:
    deframer = Deframer()
    assert deframer.feed(STANDARD_EXAMPLE[:-2]) == []
    frames = deframer.idle()
    assert len(frames) == 1
    assert frames[0].warnings == (FrameWarning.MISSING_CRLF,)
    assert deframer.idle() == []


def test_frames_without_crlf_back_to_back() -> None:
    frames = decode(STANDARD_EXAMPLE[:-2] * 3)
    assert [verdict(frame) for frame in frames] == ["no-crlf"] * 3


def test_lf_only_tail_is_a_bad_tail() -> None:
    frames = decode(STANDARD_EXAMPLE[:-2] + b"\n" + STANDARD_EXAMPLE)
    assert [verdict(frame) for frame in frames] == ["bad-tail", "valid"]
    assert frames[0].frame.raw.endswith(b"1C80\n")


def test_extra_hash_before_the_header() -> None:
    frames = decode(b"#" + STANDARD_EXAMPLE)
    assert [verdict(frame) for frame in frames] == ["valid"]
    assert frames[0].frame.skipped == 1


def test_cut_off_frame_followed_by_a_full_one() -> None:
    frames = decode(STANDARD_EXAMPLE[:60] + STANDARD_EXAMPLE)
    assert [frame.error for frame in frames] == [FrameError.TRUNCATED, None]
    assert frames[0].frame.raw == STANDARD_EXAMPLE[:60]
    assert frames[0].message is None


def test_stream_ending_inside_a_frame_is_truncated() -> None:
    frame = only(decode(STANDARD_EXAMPLE[:80]))
    assert frame.errors == (FrameError.TRUNCATED,)
    assert frame.frame.crc_field is None


def test_too_long_length_field_is_re_derived() -> None:
    frame = decode(SAMPLES[2].packet + STANDARD_EXAMPLE)[0]
    assert frame.errors == (FrameError.LENGTH_MISMATCH,)
    assert frame.frame.declared_length == 1025
    assert len(frame.frame.data) == 139
    assert frame.crc_variant is CrcVariant.STANDARD
    assert [verdict(f) for f in decode(SAMPLES[2].packet + STANDARD_EXAMPLE)] == [
        "bad-length",
        "valid",
    ]


def test_too_short_length_field_is_re_derived() -> None:
    wrong = STANDARD_EXAMPLE.replace(b"##0101", b"##0090")
    frame = only(decode(wrong))
    assert frame.errors == (FrameError.LENGTH_MISMATCH,)
    assert frame.frame.data == STANDARD_EXAMPLE[6:-6]
    assert frame.ok is False
    assert frame.cn == "1062"


def test_a_length_field_that_is_not_digits_is_a_bad_header_frame() -> None:
    bad = STANDARD_EXAMPLE.replace(b"##0101", b"##01o1")
    frames = decode(b"noise" + bad + STANDARD_EXAMPLE)
    assert [(f.errors, f.frame.declared_length, f.frame.skipped) for f in frames] == [
        ((FrameError.BAD_HEADER,), None, 5),  # the CRC is right: only the length field is bad
        ((), 101, 0),
    ]
    assert frames[0].frame.raw == bad
    assert frames[0].crc_variant is CrcVariant.STANDARD
    assert (frames[0].mn, frames[0].cn) == (MN_2017, "1062")


def test_a_bad_length_field_frame_ends_at_the_next_header_without_crlf() -> None:
    bad = b"##00zzST=32;CN=2011;PW=1;MN=1;CP=&&&&ABCD"
    frames = decode(bad + STANDARD_EXAMPLE)
    assert [f.errors for f in frames] == [(FrameError.BAD_HEADER, FrameError.CRC_MISMATCH), ()]
    assert frames[0].frame.raw == bad
    assert frames[0].warnings[:1] == (FrameWarning.MISSING_CRLF,)


def test_hashes_not_followed_by_a_segment_are_still_garbage() -> None:
    deframer = Deframer()
    stream = b"##zz hello\r\n###0101" + STANDARD_EXAMPLE[6:]
    frames = deframer.feed(stream) + deframer.close()
    assert [frame.raw for frame in frames] == [STANDARD_EXAMPLE]
    assert deframer.garbage_bytes == len(b"##zz hello\r\n#")


def test_declared_length_above_the_cap_is_rejected() -> None:
    deframer = Deframer(max_length=100)
    answer = build_data_answer(qn="20160801085000001", pw="123456", mn=MN_2017)
    frames = deframer.feed(STANDARD_EXAMPLE + answer) + deframer.close()
    assert deframer.rejected_headers == 1
    assert [frame.raw for frame in frames] == [answer]
    assert frames[0].skipped == len(STANDARD_EXAMPLE)


def test_max_length_must_fit_four_digits() -> None:
    with pytest.raises(Hj212Error):
        Deframer(max_length=10000)


def test_feed_takes_only_bytes() -> None:
    with pytest.raises(Hj212Error):
        Deframer().feed("##0101")  # type: ignore[arg-type]


def test_buffer_stays_bounded_on_endless_garbage() -> None:
    deframer = Deframer()
    for _ in range(100):
        assert deframer.feed(b"x" * 10_000 + b"#") == []
        assert deframer.buffered <= 1
    deframer.feed(b"#9999")
    for _ in range(5):
        deframer.feed(b"y" * 4_000)
    assert deframer.buffered < 9999 + 16


def test_utf8_length_is_counted_in_bytes() -> None:
    frame = only(decode(frame_segment("ST=32;CN=3020;CP=&&i11001-Info=//清洗//&&")))
    assert frame.ok
    assert frame.frame.declared_length == len("ST=32;CN=3020;CP=&&i11001-Info=//清洗//&&".encode())


def test_invalid_utf8_is_replaced_with_a_warning() -> None:
    frame = only(decode(frame_segment(b"ST=32;CN=2011;MN=\xff\xfe;CP=&&&&")))
    assert frame.ok
    assert frame.mn == "\ufffd\ufffd"
    assert frame.warnings == (FrameWarning.NON_UTF8,)


# ---- builders ------------------------------------------------------------------------------

AT = datetime(2024, 1, 23, 4, 32, 0, 1000, tzinfo=UTC)


def test_data_answer_matches_the_peer_example() -> None:
    built = build_data_answer(qn="20160801085000001", pw="123456", mn=MN_2017)
    assert built == (
        b"##0087QN=20160801085000001;ST=91;CN=9014;PW=123456;"
        b"MN=010000A8900016F000169DC0;Flag=4;CP=&&&&C241\r\n"
    )


def test_request_answer_and_execution_result_2017() -> None:
    answer = only(decode(build_request_answer(qn="20160801085857223", pw="123456", mn=MN_2017)))
    assert answer.frame.data == (
        b"QN=20160801085857223;ST=91;CN=9011;PW=123456;MN=010000A8900016F000169DC0;"
        b"Flag=4;CP=&&QnRtn=1&&"
    )
    result = build_execution_result(
        qn="20160801085857223", pw="123456", mn=MN_2017, exe_rtn=ExeRtn.NO_DATA
    )
    assert only(decode(result)).cp.fields == {"ExeRtn": "100"}


def test_2005_answer_forms() -> None:
    qn, mn = "20040516010101001", "88888880000001"
    e2005 = Edition.HJT212_2005
    cases = {
        build_request_answer(qn=qn, pw="123456", mn=mn, qn_rtn=QnRtn.BAD_PW, edition=e2005): (
            "ST=91;CN=9011;PW=123456;MN=88888880000001;Flag=0;CP=&&QN=20040516010101001;QnRtn=3&&"
        ),
        build_execution_result(qn=qn, pw="123456", mn=mn, edition=e2005): (
            "ST=91;CN=9012;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001;ExeRtn=1&&"
        ),
        build_notification_answer(qn=qn, pw="123456", mn=mn, edition=e2005): (
            "ST=91;CN=9013;PW=123456;MN=88888880000001;CP=&&QN=20040516010101001&&"
        ),
        build_data_answer(qn=qn, pw="123456", mn=mn, cn="2051", edition=e2005): (
            "ST=91;CN=9014;CP=&&QN=20040516010101001;CN=2051&&"
        ),
        build_data_answer(qn=None, pw=None, mn=None, cn="2051", pnum=2, pno=1, edition=e2005): (
            "ST=91;CN=9014;CP=&&CN=2051;PNO=1;PNUM=2&&"
        ),
    }
    for built, segment in cases.items():
        assert built == frame_segment(segment)


def test_time_requests() -> None:
    get = only(
        decode(
            build_get_device_time(st="32", pw="123456", mn="M1", qn=make_qn(AT), pol_id="w01018")
        )
    )
    assert (get.cn, get.flag, get.qn) == ("1011", 5, "20240123123200001")
    assert get.cp.fields == {"PolId": "w01018"}
    set_ = only(
        decode(build_set_device_time(st="32", pw="123456", mn="M1", qn="1", system_time=AT))
    )
    assert set_.cn == "1012"
    assert set_.cp.fields == {"SystemTime": "20240123123200"}


def test_history_requests() -> None:
    begin, end = datetime(2024, 1, 1, 16, tzinfo=UTC), datetime(2024, 1, 2, 16, tzinfo=UTC)
    minute = build_minute_history_request(
        st="32", pw="123456", mn="M1", qn="20240103000000000", begin=begin, end=end
    )
    assert minute == frame_segment(
        "QN=20240103000000000;ST=32;CN=2051;PW=123456;MN=M1;Flag=5;"
        "CP=&&BeginTime=20240102000000;EndTime=20240103000000&&"
    )
    hourly = build_hourly_history_request(
        st="32", pw="123456", mn="M1", qn="1", begin=begin, end=end
    )
    assert only(decode(hourly)).cn == "2061"
    old = build_history_request(
        cn="2031",
        st="32",
        pw="123456",
        mn="M1",
        qn="1",
        begin=begin,
        end=end,
        edition=Edition.HJT212_2005,
    )
    assert b";Flag=1;CP=&&BeginTime=20240102000000,EndTime=20240103000000&&" in old


def test_history_request_checks_its_arguments() -> None:
    begin, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    with pytest.raises(Hj212Error):
        build_history_request(cn="2011", st="32", pw="1", mn="M", qn="1", begin=begin, end=end)
    with pytest.raises(Hj212Error):
        build_history_request(cn="2051", st="32", pw="1", mn="M", qn="1", begin=end, end=begin)
    with pytest.raises(Hj212Error):
        build_history_request(
            cn="2051", st="32", pw="1", mn="M", qn="1", begin=datetime(2024, 1, 1), end=end
        )


def test_encode_frame_builds_an_upload() -> None:
    cp = build_cp(
        {"DataTime": AT},
        {"w01018": {"Rtd": 12.5, "Flag": "N"}, "w00000": {"Cou": 0.00001, "Rtd": 3}},
    )
    built = encode_frame(
        st="32", cn="2051", qn="20240123123200001", pw="123456", mn="M1", flag=5, cp=cp
    )
    assert built == frame_segment(
        "QN=20240123123200001;ST=32;CN=2051;PW=123456;MN=M1;Flag=5;"
        "CP=&&DataTime=20240123123200;w01018-Rtd=12.5,w01018-Flag=N;w00000-Cou=0.00001,w00000-Rtd=3&&"
    )
    frame = only(decode(built))
    assert frame.ok
    assert frame.data_time == datetime(2024, 1, 23, 4, 32, tzinfo=UTC)


def test_encode_frame_with_modbus_crc() -> None:
    built = encode_frame(st="32", cn="2011", crc="modbus")
    assert only(decode(built)).error is FrameError.CRC_MISMATCH
    assert only(decode(built, crc="modbus")).crc_variant is CrcVariant.MODBUS


@pytest.mark.parametrize(
    ("fields", "pollutants"),
    [
        ({"Data Time": "1"}, {}),
        ({"A": "1;2"}, {}),
        ({"A": "x##0101"}, {}),
        ({"A": "a&&b"}, {}),
        ({"A": "//open"}, {}),
        ({"A": "x=//y"}, {}),
        ({"A": float("nan")}, {}),
        ({"A": True}, {}),
        ({}, {"w-1": {"Rtd": "1"}}),
        ({}, {"w01018": {"Rtd": "1,2"}}),
        ({"A": datetime(2024, 1, 1)}, {}),
    ],
)
def test_build_cp_refuses_what_cannot_be_sent(fields: dict, pollutants: dict) -> None:
    with pytest.raises(Hj212Error):
        build_cp(fields, pollutants)


@pytest.mark.parametrize(
    "header",
    [{"mn": "A;B"}, {"pw": "a b"}, {"qn": "1=2"}, {"flag": 256}, {"pnum": -1}, {"mn": "#1"}],
)
def test_encode_frame_refuses_bad_header_values(header: dict) -> None:
    with pytest.raises(Hj212Error):
        encode_frame(st="32", cn="2011", **header)


def test_frame_segment_refuses_more_than_four_digits() -> None:
    with pytest.raises(Hj212Error):
        frame_segment("x" * 10_000)


def test_answer_for_an_upload_that_asks_for_one() -> None:
    upload = only(decode(SAMPLES[13].packet))  # HJ212Interpreter 2011 with Flag=5
    assert answer_for(upload) == build_data_answer(qn="20231008132300648", pw="123456", mn=MN_2017)


def test_answer_for_a_time_calibration_request() -> None:
    request = only(
        decode(frame_segment(f"QN=1;ST=32;CN=1013;PW=123456;MN={MN_2017};Flag=5;CP=&&&&"))
    )
    assert answer_for(request) == build_notification_answer(qn="1", pw="123456", mn=MN_2017)


def test_answer_for_a_2005_split_upload() -> None:
    upload = only(decode(frame_segment("ST=32;CN=2051;PW=1;MN=M;Flag=3;PNUM=2;PNO=1;CP=&&&&")))
    assert answer_for(upload) == frame_segment("ST=91;CN=9014;CP=&&CN=2051;PNO=1;PNUM=2&&")


@pytest.mark.parametrize(
    "segment",
    [
        "QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=4;CP=&&&&",  # no ack bit
        "QN=1;ST=91;CN=9014;PW=1;MN=M;Flag=5;CP=&&&&",  # never answer an answer
        "ST=32;CN=2011;PW=1;MN=M;CP=&&&&",  # no Flag at all
    ],
)
def test_no_answer(segment: str) -> None:
    assert answer_for(only(decode(frame_segment(segment)))) is None


def test_no_answer_for_a_bad_crc() -> None:
    frame = only(decode(frame_segment("QN=1;ST=32;CN=2011;PW=1;MN=M;Flag=5;CP=&&&&", crc="modbus")))
    assert frame.error is FrameError.CRC_MISMATCH
    assert answer_for(frame) is None
