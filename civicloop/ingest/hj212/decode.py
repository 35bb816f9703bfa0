"""From bytes to parsed frames: the deframer's records plus the parsed data segment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .cp import EMPTY_CP, Cp
from .crc import CrcMode, CrcVariant, crc16_hj212, format_crc
from .deframer import MAX_LENGTH, Deframer, RawFrame
from .errors import FrameError, FrameWarning, Hj212Error
from .message import CodeEdition, Edition, Message, parse_segment


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A frame and, when its segment could be parsed, the message in it.

    The message is parsed even when the CRC or the length is wrong, so that a request with a
    bad CRC can still be answered (QnRtn=9) and logged against its MN; `ok` says whether the
    frame can be trusted.
    """

    frame: RawFrame
    message: Message | None
    errors: tuple[FrameError, ...]
    warnings: tuple[FrameWarning, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error(self) -> FrameError | None:
        return self.errors[0] if self.errors else None

    @property
    def crc_variant(self) -> CrcVariant | None:
        return self.frame.crc_variant

    @property
    def edition(self) -> Edition | None:
        return self.message.edition if self.message else None

    @property
    def code_edition(self) -> CodeEdition | None:
        return self.message.code_edition if self.message else None

    @property
    def qn(self) -> str | None:
        return self.message.qn if self.message else None

    @property
    def st(self) -> str | None:
        return self.message.st if self.message else None

    @property
    def cn(self) -> str | None:
        return self.message.cn if self.message else None

    @property
    def pw(self) -> str | None:
        return self.message.pw if self.message else None

    @property
    def mn(self) -> str | None:
        return self.message.mn if self.message else None

    @property
    def flag(self) -> int | None:
        return self.message.flag if self.message else None

    @property
    def data_time(self) -> datetime | None:
        return self.message.data_time if self.message else None

    @property
    def cp(self) -> Cp:
        return self.message.cp if self.message else EMPTY_CP

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the `civicloop hj212 decode` output)."""
        message, frame = self.message, self.frame
        return {
            "ok": self.ok,
            "error": self.error,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "crc_variant": self.crc_variant,
            "crc": frame.crc_field.decode("ascii") if frame.crc_field is not None else None,
            "crc_expected": format_crc(crc16_hj212(frame.data)),
            "edition": self.edition,
            "code_edition": self.code_edition,
            "qn": self.qn,
            "st": self.st,
            "cn": self.cn,
            "pw": self.pw,
            "mn": self.mn,
            "flag": self.flag,
            "pnum": message.pnum if message else None,
            "pno": message.pno if message else None,
            "data_time": self.data_time.isoformat() if self.data_time else None,
            "header": dict(message.header) if message else {},
            "cp": {"fields": dict(self.cp.fields), "pollutants": dict(self.cp.pollutants)},
            "length": len(frame.data),
            "declared_length": frame.declared_length,
            "offset": frame.offset,
            "skipped": frame.skipped,
        }


def decode_frame(frame: RawFrame) -> DecodedFrame:
    try:
        message: Message | None = parse_segment(frame.data)
    except Hj212Error:
        message = None
    errors = frame.errors
    # A cut-off frame is expected not to parse; saying bad_header as well would be noise (and
    # a frame with a bad length field says it already).
    if message is None and not {FrameError.TRUNCATED, FrameError.BAD_HEADER} & set(errors):
        errors += (FrameError.BAD_HEADER,)
    warnings = frame.warnings + (message.warnings if message else ())
    return DecodedFrame(frame, message, errors, warnings)


class StreamDecoder:
    """A `Deframer` whose frames come out parsed; the listener keeps one per connection."""

    def __init__(self, *, crc: CrcMode | str = CrcMode.STANDARD, max_length: int = MAX_LENGTH):
        self.deframer = Deframer(crc=crc, max_length=max_length)

    def feed(self, data: bytes) -> list[DecodedFrame]:
        return [decode_frame(frame) for frame in self.deframer.feed(data)]

    def idle(self) -> list[DecodedFrame]:
        return [decode_frame(frame) for frame in self.deframer.idle()]

    def close(self) -> list[DecodedFrame]:
        return [decode_frame(frame) for frame in self.deframer.close()]


def decode(
    data: bytes, *, crc: CrcMode | str = CrcMode.STANDARD, max_length: int = MAX_LENGTH
) -> list[DecodedFrame]:
    """Every frame in a complete capture (one or more frames, garbage allowed)."""
    decoder = StreamDecoder(crc=crc, max_length=max_length)
    return decoder.feed(data) + decoder.close()
