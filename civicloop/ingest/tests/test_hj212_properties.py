from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.ingest.hj212 import (
    CrcMode,
    CrcVariant,
    Deframer,
    Edition,
    Hj212Error,
    RawFrame,
    StreamDecoder,
    build,
    build_cp,
    build_data_answer,
    decode,
    encode_frame,
    parse_segment,
)
from civicloop.ingest.hj212.cp import CpValue, format_value
from civicloop.ingest.hj212.message import Cn
from civicloop.ingest.tests.test_hj212_frames import SAMPLES

PACKETS = [row.packet for row in SAMPLES]
HTTP_SCAN = b"GET / HTTP/1.1\r\nHost: 10.0.0.1:9000\r\nUser-Agent: zgrab/0.x\r\n\r\n"
# Pieces that steer random input towards the deframer's decision points.
TOKENS = [b"##", b"#", b"##0101", b"##0010", b"##9999", b"&&", b"CP=&&", b"\r\n", b"\r", b"\n"]
TOKENS += [b"&&1C80", b"&&1c80\r\n", b"ST=32;CN=2011;", b"=//", b"//", b";", b",", b"\x00" * 8]
# Length fields that are not four digits, before a segment or not (`bad_header` frames).
TOKENS += [b"##00zzST=32;", b"##12a4QN=", b"##zz", b"QN=", b"ST=", b"##0 1 "]

CHECKED = settings(max_examples=300, deadline=None)


@st.composite
def mutated_packets(draw: st.DrawFn) -> bytes:
    packet = bytearray(draw(st.sampled_from(PACKETS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(packet) - 1))
        packet[at] = draw(st.integers(0, 255))
    start = draw(st.integers(0, len(packet)))
    end = draw(st.integers(start, len(packet)))
    return bytes(packet[:start] + packet[end:]) if draw(st.booleans()) else bytes(packet)


pieces = st.one_of(
    st.binary(max_size=48),
    st.sampled_from(TOKENS),
    st.sampled_from(PACKETS),
    mutated_packets(),
    st.just(HTTP_SCAN),
)
streams = st.lists(pieces, max_size=12).map(b"".join)


def chunks_of(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def deframe(chunks: list[bytes], crc: CrcMode, max_length: int) -> list[RawFrame]:
    deframer = Deframer(crc=crc, max_length=max_length)
    frames = [frame for chunk in chunks for frame in deframer.feed(chunk)]
    return frames + deframer.close()


# ---- arbitrary bytes -----------------------------------------------------------------------


@CHECKED
@given(
    data=streams,
    cuts=st.lists(st.integers(min_value=0), max_size=8),
    crc=st.sampled_from(list(CrcMode)),
    max_length=st.sampled_from([9999, 1024, 120, 16]),
    idle_after=st.sets(st.integers(0, 8)),
)
def test_arbitrary_bytes_never_raise(
    data: bytes, cuts: list[int], crc: CrcMode, max_length: int, idle_after: set[int]
) -> None:
    # The deframer's contract is stronger than "only Hj212Error": wire bytes never raise.
    decoder = StreamDecoder(crc=crc, max_length=max_length)
    frames = []
    for i, chunk in enumerate(chunks_of(data, cuts)):
        frames += decoder.feed(chunk)
        if i in idle_after:
            frames += decoder.idle()
    frames += decoder.close()
    for frame in frames:
        frame.to_dict()
        assert frame.ok == (frame.error is None)
    assert decoder.deframer.buffered == 0
    consumed = sum(len(frame.frame.raw) for frame in frames)
    assert consumed + decoder.deframer.garbage_bytes == len(data)


@CHECKED
@given(st.one_of(st.binary(max_size=300), streams))
def test_segment_parser_raises_only_codec_errors(data: bytes) -> None:
    try:
        parse_segment(data)
    except Hj212Error as error:
        assert error.code == "bad_header"


# ---- splitting a stream --------------------------------------------------------------------


@CHECKED
@given(
    data=streams,
    cuts=st.lists(st.integers(min_value=0), max_size=10),
    crc=st.sampled_from(list(CrcMode)),
    max_length=st.sampled_from([9999, 120]),
)
def test_splitting_a_stream_never_changes_the_frames(
    data: bytes, cuts: list[int], crc: CrcMode, max_length: int
) -> None:
    whole = deframe([data], crc, max_length)
    assert deframe(chunks_of(data, cuts), crc, max_length) == whole


def test_byte_by_byte_equals_whole_on_all_samples_with_noise() -> None:
    stream = HTTP_SCAN.join(PACKETS) + b"##01"
    single = [stream[i : i + 1] for i in range(len(stream))]
    assert deframe(single, CrcMode.ANY, 9999) == deframe([stream], CrcMode.ANY, 9999)


# ---- encoder round trip --------------------------------------------------------------------

header_values = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
        exclude_characters=";,=&#\x1c\x1d\x1e\x1f",
    ),
    min_size=1,
    max_size=16,
)
names = st.from_regex(r"[A-Za-z0-9_.]{1,10}", fullmatch=True)
text_values = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=";,\r\n"), max_size=20
).filter(lambda text: not text.startswith("//") and not any(s in text for s in ("&&", "##", "=//")))
quoted_values = (
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=20)
    .map(lambda text: f"//{text}//")
    .filter(lambda text: not any(s in text[2:-2] for s in ("//", "&&", "##")))
)
numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
)
values = st.one_of(text_values, quoted_values, numbers)


@CHECKED
@given(
    st_code=header_values,
    cn=header_values,
    optional=st.fixed_dictionaries(
        {},
        optional={
            "qn": header_values,
            "pw": header_values,
            "mn": header_values,
            "flag": st.integers(0, 255),
            "pnum": st.integers(0, 9999),
            "pno": st.integers(0, 9999),
        },
    ),
    fields=st.dictionaries(names, values, max_size=4),
    pollutants=st.dictionaries(names, st.dictionaries(names, values, max_size=4), max_size=4),
    variant=st.sampled_from(list(CrcVariant)),
)
def test_encoded_frames_decode_to_the_same_values(
    st_code: str,
    cn: str,
    optional: dict,
    fields: dict,
    pollutants: dict,
    variant: CrcVariant,
) -> None:
    cp = build_cp(fields, pollutants)
    built = encode_frame(st=st_code, cn=cn, cp=cp, crc=variant, **optional)
    [frame] = decode(built, crc=CrcMode(variant.value))
    assert frame.errors == ()
    assert frame.crc_variant is variant
    assert frame.frame.raw == built
    message = frame.message
    assert message is not None
    assert (message.st, message.cn) == (st_code, cn)
    for key in ("pw", "mn", "flag", "pnum", "pno"):
        assert getattr(message, key) == optional.get(key)
    assert message.header.get("QN") == optional.get("qn")
    assert message.cp.items == cp.items
    assert message.cp.fields == {name: format_value(value) for name, value in fields.items()}


@given(st.decimals(min_value=-(10**15), max_value=10**15, allow_nan=False, allow_infinity=False))
def test_numbers_are_written_without_exponent(number: Decimal) -> None:
    text = format_value(number)
    assert "E" not in text.upper()
    assert Decimal(text) == number


header_texts = st.one_of(
    st.none(),
    st.text(alphabet="0123456789abcXYZ_.-", min_size=1, max_size=24),
    st.text(max_size=12),  # anything, `;`, `&`, `=`, controls and all: both paths must refuse it
)
packet_numbers = st.one_of(st.none(), st.integers(0, 9999))


def _answer_or_error(make: Callable[..., bytes], **fields: Any) -> bytes | str:
    try:
        return bytes(make(**fields))
    except Hj212Error as error:
        return error.code


def _data_answer_through_the_general_encoder(
    *,
    qn: str | None,
    pw: str | None,
    mn: str | None,
    cn: str | None,
    pnum: int | None,
    pno: int | None,
    edition: Edition,
) -> bytes:
    """The 9014 as every other answer is built (`build._answer`): what the fast path must
    reproduce byte for byte."""
    if edition is not Edition.HJT212_2005:
        return build._answer(Cn.DATA_ANSWER, qn=qn, pw=pw, mn=mn, edition=edition, fields={})
    fields: dict[str, CpValue] = {"CN": cn} if cn is not None else {}
    if pnum is not None and pno is not None:
        fields |= {"PNO": pno, "PNUM": pnum}
    return build._answer(Cn.DATA_ANSWER, qn=qn, pw=None, mn=None, edition=edition, fields=fields)


@CHECKED
@given(
    qn=header_texts,
    pw=header_texts,
    mn=header_texts,
    cn=header_texts,
    pnum=packet_numbers,
    pno=packet_numbers,
    edition=st.sampled_from(list(Edition)),
)
def test_the_data_answer_fast_path_gives_the_general_encoders_bytes(
    qn: str | None,
    pw: str | None,
    mn: str | None,
    cn: str | None,
    pnum: int | None,
    pno: int | None,
    edition: Edition,
) -> None:
    fields = dict(qn=qn, pw=pw, mn=mn, cn=cn, pnum=pnum, pno=pno, edition=edition)
    assert _answer_or_error(build_data_answer, **fields) == _answer_or_error(
        _data_answer_through_the_general_encoder, **fields
    )
