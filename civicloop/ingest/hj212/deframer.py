"""Cut a TCP byte stream into HJ 212 frames: `##` + 4-digit length + data + CRC(4 hex) + CRLF.

Frames are cut by the length field, not by searching for CRLF, because devices omit or mangle
the tail. When the length field is wrong, the end is re-derived from the next `\\r\\n` whose
preceding four hex digits are a matching CRC (or follow `&&`); a `##dddd` inside a frame means
the frame was cut off and a new one started. A length field that is not four digits, followed
by `QN=` or `ST=`, gives a `bad_header` frame up to the next CRLF or `##` (so that the device's
engineer sees it); any other `##` without digits is garbage.

Every decision depends only on bytes that belong to the frame being cut and on a bounded
look-ahead, so splitting a stream differently never changes the frames found. The buffer
never holds more than one undecided frame (at most `max_length` + 16 bytes) plus one `#`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from .crc import CrcMode, CrcVariant, is_crc_field, match_crc, parse_crc_mode
from .errors import FrameError, FrameWarning, Hj212Error

STANDARD_MAX_LENGTH = 1024  # the standard's cap on the data segment; bigger frames do occur
MAX_LENGTH = 9999  # the most four digits can say


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One frame as cut from the stream, CRC checked, segment not yet parsed."""

    raw: bytes  # from `##` through the tail bytes that were consumed
    data: bytes  # the data segment (re-derived when the length field was wrong)
    declared_length: int | None  # None: the length field is not four digits
    crc_field: bytes | None  # None when the frame was truncated
    crc_variant: CrcVariant | None
    errors: tuple[FrameError, ...]
    warnings: tuple[FrameWarning, ...]
    offset: int  # stream offset of `##`
    skipped: int  # garbage bytes dropped between the previous frame and this one


class _Mode(Enum):
    STREAM = auto()  # more bytes may come
    IDLE = auto()  # quiet connection: stop waiting for CRLFs that may never come
    FINAL = auto()  # end of stream


class _Outcome(Enum):
    WAIT = auto()  # undecidable until more bytes arrive
    NONE = auto()  # nothing found; go on


_Step = RawFrame | _Outcome
_HASH = 0x23
_CR = 0x0D
_LF = 0x0A
# A data segment starts with one of these (2017: QN first; 2005: ST first, sometimes QN).
_SEGMENT_STARTS = (b"QN=", b"ST=")


class Deframer:
    """Per-connection frame cutter: `feed()` what `recv()` returned, `close()` at EOF.

    Call `idle()` when the connection has been quiet for a moment (say 0.5 s): a device that
    omits the CRLF and waits for our answer would otherwise wait forever.
    """

    def __init__(self, *, crc: CrcMode | str = CrcMode.STANDARD, max_length: int = MAX_LENGTH):
        if not 0 < max_length <= MAX_LENGTH:
            raise Hj212Error("bad_max_length", f"max_length must be in 1..{MAX_LENGTH}")
        self.crc = parse_crc_mode(crc)
        self.max_length = max_length
        self.garbage_bytes = 0
        self.rejected_headers = 0
        self.frames = 0
        self._buf = bytearray()
        self._pos = 0  # first unconsumed byte of _buf
        self._offset = 0  # stream offset of _buf[0]
        self._skipped = 0

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[RawFrame]:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise Hj212Error("bad_input", "Deframer.feed() takes bytes")
        self._buf += data
        return self._drain(_Mode.STREAM)

    def idle(self) -> list[RawFrame]:
        return self._drain(_Mode.IDLE)

    def close(self) -> list[RawFrame]:
        """End of stream: emit what is left (cut-off frames as `truncated`) and reset."""
        frames = self._drain(_Mode.FINAL)
        self._skipped = 0
        return frames

    # ---- the loop ------------------------------------------------------------------------

    def _drain(self, mode: _Mode) -> list[RawFrame]:
        frames: list[RawFrame] = []
        while (step := self._step(mode)) is not _Outcome.WAIT:
            if isinstance(step, RawFrame):
                frames.append(step)
        self._offset += self._pos
        del self._buf[: self._pos]
        self._pos = 0
        self.frames += len(frames)
        return frames

    def _discard(self, upto: int) -> None:
        self.garbage_bytes += upto - self._pos
        self._skipped += upto - self._pos
        self._pos = upto

    def _step(self, mode: _Mode) -> _Step:
        """Emit one frame, or drop some garbage (NONE), or say that we must wait (WAIT)."""
        buf = self._buf
        start = buf.find(b"##", self._pos)
        if start < 0:
            # Keep a lone trailing `#`: it may be the first half of the next `##`.
            keep = 1 if mode is not _Mode.FINAL and buf.endswith(b"#") else 0
            self._discard(max(self._pos, len(buf) - keep))
            return _Outcome.WAIT
        self._discard(start)
        digits = bytes(buf[start + 2 : start + 6])
        if digits and not digits.isdigit():
            return self._bad_length_field(start, mode)
        if len(digits) < 4:
            if mode is _Mode.FINAL:
                self._discard(len(buf))
            return _Outcome.WAIT
        length = int(digits)
        if length > self.max_length:
            self.rejected_headers += 1
            self._discard(start + 1)
            return _Outcome.NONE
        return self._cut(start, length, mode)

    # ---- a length field that is not four digits ------------------------------------------

    def _bad_length_field(self, start: int, mode: _Mode) -> _Step:
        """`##` + four bytes that are not digits, then `QN=` or `ST=`: a device writing a bad
        length field. Cut it at the next CRLF or `##` as a `bad_header` frame, so that it is
        reported (and quarantined) instead of vanishing as garbage. Anything else after `##`
        is garbage: `###0101…` (the real header starts one byte later), scanners' noise."""
        head = bytes(self._buf[start + 2 : start + 9])
        field, segment = head[:4], head[4:]
        plausible = b"#" not in field and b"\r" not in field and b"\n" not in field
        if plausible and segment in _SEGMENT_STARTS:
            return self._cut_bad_length(start, mode)
        undecided = len(head) < 7 and any(s.startswith(segment) for s in _SEGMENT_STARTS)
        if plausible and undecided and mode is not _Mode.FINAL:
            return _Outcome.WAIT  # until the segment's first bytes are here
        self._discard(start + 1)
        return _Outcome.NONE

    def _cut_bad_length(self, start: int, mode: _Mode) -> _Step:
        buf = self._buf
        data_start = start + 6
        limit = data_start + self.max_length + 4  # the longest data segment and its CRC
        ends = [buf.find(b"\r\n", data_start, limit + 2), buf.find(b"##", data_start, limit + 2)]
        found = [end for end in ends if end >= 0]
        if found:
            end = min(found)
            tail = 2 if end == ends[0] else 0
            return self._bad_length_frame(start, end, tail)
        if len(buf) >= limit + 2:
            return self._bad_length_frame(start, limit, 0)  # no end in sight: cut at the cap
        if mode is _Mode.FINAL:
            return self._bad_length_frame(start, len(buf), 0)
        return _Outcome.WAIT

    def _bad_length_frame(self, start: int, end: int, tail_length: int) -> RawFrame:
        """The frame from `##` to `end` (CRLF or the next `##`); the CRC is checked if the four
        bytes before `end` look like one."""
        field: bytes | None = bytes(self._buf[end - 4 : end])
        if end - 4 < start + 6 or not is_crc_field(field or b""):
            field = None
        data_end = end - 4 if field is not None else end
        data = bytes(self._buf[start + 6 : data_end])
        variant = match_crc(data, field, self.crc) if field is not None else None
        errors = [FrameError.BAD_HEADER]
        if field is not None and variant is None:
            errors.append(FrameError.CRC_MISMATCH)
        warnings = [] if tail_length else [FrameWarning.MISSING_CRLF]
        return self._record(start, end + tail_length, None, data, field, variant, errors, warnings)

    # ---- one candidate frame -------------------------------------------------------------

    def _cut(self, start: int, length: int, mode: _Mode) -> _Step:
        data_start = start + 6
        declared_end = data_start + length
        # A CRLF-terminated frame or a new `##dddd` before the declared end wins.
        early = self._scan(start, length, data_start, declared_end + 4, mode)
        if early is not _Outcome.NONE:
            return early
        if len(self._buf) < declared_end + 4:
            return self._give_up(start, length) if mode is _Mode.FINAL else _Outcome.WAIT
        declared = self._declared(start, length, mode)
        if declared is not _Outcome.NONE:
            return declared
        window_end = data_start + self.max_length + 5
        late = self._scan(start, length, declared_end + 4, window_end, mode)
        if late is not _Outcome.NONE:
            return late
        if mode is _Mode.FINAL or len(self._buf) >= window_end + 6:
            return self._give_up(start, length)
        return _Outcome.WAIT

    def _declared(self, start: int, length: int, mode: _Mode) -> _Step:
        """The frame as its length field says, if the CRC field is where it should be."""
        data_end = start + 6 + length
        field = bytes(self._buf[data_end : data_end + 4])
        if not is_crc_field(field):
            return _Outcome.NONE
        data = bytes(self._buf[start + 6 : data_end])
        variant = match_crc(data, field, self.crc)
        tail = self._tail(data_end + 4, mode)
        if isinstance(tail, _Outcome):
            return tail
        tail_length, tail_warning = tail
        # A bad CRC with a bad tail more likely means a wrong length: look further.
        if variant is None and not data.endswith(b"&&") and tail_warning is FrameWarning.BAD_TAIL:
            return _Outcome.NONE
        return self._emit(start, length, data_end, variant, tail_length, tail_warning)

    def _tail(self, at: int, mode: _Mode) -> tuple[int, FrameWarning | None] | _Outcome:
        """How many bytes after the CRC belong to this frame, and what was wrong with them."""
        tail = self._buf[at : at + 2]
        if tail == b"\r\n":
            return 2, None
        if not tail:
            return _Outcome.WAIT if mode is _Mode.STREAM else (0, FrameWarning.MISSING_CRLF)
        if tail[0] == _HASH:
            return 0, FrameWarning.MISSING_CRLF  # the next frame follows directly
        if tail[0] == _CR and len(tail) == 1 and mode is _Mode.STREAM:
            return _Outcome.WAIT
        if tail[0] in (_CR, _LF):
            return 1, FrameWarning.BAD_TAIL
        return 0, FrameWarning.BAD_TAIL  # spaces, NULs …: dropped later as garbage

    def _scan(self, start: int, length: int, low: int, high: int, mode: _Mode) -> _Step:
        """Look for a frame end (CRLF) or a new frame (`##`) at positions low..high-1."""
        buf = self._buf
        crlf = buf.find(b"\r\n", max(low, start + 10), high + 1)
        hashes = buf.find(b"##", max(low, start + 6), high + 1)
        while crlf >= 0 or hashes >= 0:
            if hashes < 0 or 0 <= crlf < hashes:
                step = self._at_crlf(start, length, crlf)
                crlf = buf.find(b"\r\n", crlf + 2, high + 1)
            else:
                step = self._at_hashes(start, length, hashes, mode)
                hashes = buf.find(b"##", hashes + 1, high + 1)
            if step is not _Outcome.NONE:
                return step
        return _Outcome.NONE

    def _ends_here(self, start: int, data_end: int) -> CrcVariant | _Outcome | None:
        """The CRC variant if `data_end` looks like the end of the data, else NONE."""
        field = bytes(self._buf[data_end : data_end + 4])
        if data_end < start + 6 or not is_crc_field(field):
            return _Outcome.NONE
        data = bytes(self._buf[start + 6 : data_end])
        variant = match_crc(data, field, self.crc)
        if variant is None and not data.endswith(b"&&"):
            return _Outcome.NONE
        return variant

    def _at_crlf(self, start: int, length: int, crlf: int) -> _Step:
        variant = self._ends_here(start, crlf - 4)
        if isinstance(variant, _Outcome):
            return variant
        return self._emit(start, length, crlf - 4, variant, 2, None)

    def _at_hashes(self, start: int, length: int, at: int, mode: _Mode) -> _Step:
        digits = bytes(self._buf[at + 2 : at + 6])
        if digits and not digits.isdigit():
            return _Outcome.NONE  # a `##` inside the data, not a header
        if len(digits) < 4:
            return _Outcome.NONE if mode is _Mode.FINAL else _Outcome.WAIT
        variant = self._ends_here(start, at - 4)
        if isinstance(variant, _Outcome):
            return self._truncated(start, length, at)
        return self._emit(start, length, at - 4, variant, 0, FrameWarning.MISSING_CRLF)

    def _give_up(self, start: int, length: int) -> RawFrame:
        """No end found: the stream ended or the window is exhausted."""
        end = min(len(self._buf), start + 6 + self.max_length + 4)
        variant = self._ends_here(start, end - 4) if end == len(self._buf) else _Outcome.NONE
        if isinstance(variant, _Outcome):
            return self._truncated(start, length, end)
        return self._emit(start, length, end - 4, variant, 0, FrameWarning.MISSING_CRLF)

    # ---- building records ----------------------------------------------------------------

    def _emit(
        self,
        start: int,
        length: int,
        data_end: int,
        variant: CrcVariant | None,
        tail_length: int,
        tail_warning: FrameWarning | None,
    ) -> RawFrame:
        data = bytes(self._buf[start + 6 : data_end])
        field = bytes(self._buf[data_end : data_end + 4])
        errors = []
        if len(data) != length:
            errors.append(FrameError.LENGTH_MISMATCH)
        if variant is None:
            errors.append(FrameError.CRC_MISMATCH)
        warnings = [tail_warning] if tail_warning else []
        if field != field.upper():
            warnings.append(FrameWarning.LOWERCASE_CRC)
        if len(data) > STANDARD_MAX_LENGTH:
            warnings.append(FrameWarning.OVERSIZE)
        end = data_end + 4 + tail_length
        return self._record(start, end, length, data, field, variant, errors, warnings)

    def _truncated(self, start: int, length: int, end: int) -> RawFrame:
        data = bytes(self._buf[start + 6 : end])
        return self._record(start, end, length, data, None, None, [FrameError.TRUNCATED], [])

    def _record(
        self,
        start: int,
        end: int,
        length: int | None,
        data: bytes,
        field: bytes | None,
        variant: CrcVariant | None,
        errors: list[FrameError],
        warnings: list[FrameWarning],
    ) -> RawFrame:
        frame = RawFrame(
            raw=bytes(self._buf[start:end]),
            data=data,
            declared_length=length,
            crc_field=field,
            crc_variant=variant,
            errors=tuple(errors),
            warnings=tuple(warnings),
            offset=self._offset + start,
            skipped=self._skipped,
        )
        self._pos = end
        self._skipped = 0
        return frame
