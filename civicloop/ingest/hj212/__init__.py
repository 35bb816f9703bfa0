"""HJ 212 (2005/2017) codec: stream deframing, CRC, segment and CP parsing, frame builders.

Pure Python, no Django: bytes in, frozen dataclasses out. See docs/hj212-codec.md.
"""

from __future__ import annotations

from .build import (
    answer_for,
    build_data_answer,
    build_execution_result,
    build_get_device_time,
    build_history_request,
    build_hourly_history_request,
    build_minute_history_request,
    build_notification_answer,
    build_request_answer,
    build_set_device_time,
    encode_frame,
    encode_segment,
    flag_for,
    frame_segment,
)
from .cp import Cp, CpItem, CpValue, Suffix, build_cp, format_cp, parse_cp
from .crc import (
    CrcMode,
    CrcVariant,
    crc16,
    crc16_hj212,
    crc16_hj212_table,
    crc16_modbus,
    format_crc,
    match_crc,
)
from .decode import DecodedFrame, StreamDecoder, decode, decode_frame
from .deframer import MAX_LENGTH, STANDARD_MAX_LENGTH, Deframer, RawFrame
from .errors import FrameError, FrameWarning, Hj212Error
from .message import Cn, CodeEdition, Edition, ExeRtn, Message, QnRtn, parse_segment
from .times import DEVICE_TZ, format_hj_time, make_qn, parse_hj_time

__all__ = [
    "DEVICE_TZ",
    "MAX_LENGTH",
    "STANDARD_MAX_LENGTH",
    "Cn",
    "CodeEdition",
    "Cp",
    "CpItem",
    "CpValue",
    "CrcMode",
    "CrcVariant",
    "DecodedFrame",
    "Deframer",
    "Edition",
    "ExeRtn",
    "FrameError",
    "FrameWarning",
    "Hj212Error",
    "Message",
    "QnRtn",
    "RawFrame",
    "StreamDecoder",
    "Suffix",
    "answer_for",
    "build_cp",
    "build_data_answer",
    "build_execution_result",
    "build_get_device_time",
    "build_history_request",
    "build_hourly_history_request",
    "build_minute_history_request",
    "build_notification_answer",
    "build_request_answer",
    "build_set_device_time",
    "crc16",
    "crc16_hj212",
    "crc16_hj212_table",
    "crc16_modbus",
    "decode",
    "decode_frame",
    "encode_frame",
    "encode_segment",
    "flag_for",
    "format_cp",
    "format_crc",
    "format_hj_time",
    "frame_segment",
    "make_qn",
    "match_crc",
    "parse_cp",
    "parse_hj_time",
    "parse_segment",
]
