"""Frames the platform sends: answers (9011–9014), time get/set (1011/1012), history requests,
and a generic encoder for any data frame.

2017 form (the default): QN in the header, ST=91, Flag with the version bits, e.g.
`QN=…;ST=91;CN=9014;PW=…;MN=…;Flag=4;CP=&&&&`. 2005 form: the request's QN (and for 9014 the
acknowledged CN) inside CP, as in HJ/T 212-2005 附录 C.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

from .cp import EMPTY_CP, Cp, CpItem, CpValue, build_cp, format_cp, format_value, make_cp
from .crc import CrcVariant, crc16, format_crc, parse_crc_variant
from .decode import DecodedFrame
from .deframer import MAX_LENGTH
from .errors import Hj212Error
from .message import FLAG_ACK, Cn, Edition, ExeRtn, QnRtn
from .times import format_hj_time

SYSTEM_INTERACTION_ST = "91"
_HISTORY_CNS = frozenset({Cn.DAILY_DATA, Cn.DAILY_RUN_TIME, Cn.MINUTE_DATA, Cn.HOURLY_DATA})
_VERSION_BITS = {Edition.HJT212_2005: 0, Edition.HJ212_2017: 1, Edition.HJ212_2025: 2}
# Header values end at `;`/`,`, `=` and `&` would confuse the CP search, `#` a receiver's framing.
_HEADER_VALUE = re.compile(r"[^;,=&#\s\x00-\x1f\x7f]+\Z")


def frame_segment(segment: str | bytes, *, crc: CrcVariant | str = CrcVariant.STANDARD) -> bytes:
    """`##` + 4-digit byte length + segment + CRC (upper-case hex) + CRLF."""
    data = segment.encode("utf-8") if isinstance(segment, str) else bytes(segment)
    if len(data) > MAX_LENGTH:
        raise Hj212Error("too_long", f"data segment of {len(data)} bytes does not fit 4 digits")
    variant = crc if crc is CrcVariant.STANDARD else parse_crc_variant(crc)
    checksum = format_crc(crc16(data, variant)).encode("ascii")
    return b"##%04d%s%s\r\n" % (len(data), data, checksum)


def _header_value(name: str, value: str | int) -> str:
    text = str(value)
    if isinstance(value, int) and not 0 <= value <= (255 if name == "Flag" else 9999):
        raise Hj212Error("bad_header_value", f"{name}={value} is out of range")
    if text and not _HEADER_VALUE.match(text):
        raise Hj212Error("bad_header_value", f"{name}={text!r} cannot be sent in a header")
    return text


def encode_segment(
    *,
    st: str,
    cn: str,
    cp: Cp | None = None,
    qn: str | None = None,
    pw: str | None = None,
    mn: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
) -> str:
    """The data segment in the 2017 field order; None fields are left out."""
    if not st or not cn:
        raise Hj212Error("bad_header_value", "ST and CN are required")
    fields = (
        ("QN", qn),
        ("ST", st),
        ("CN", cn),
        ("PW", pw),
        ("MN", mn),
        ("Flag", flag),
        ("PNUM", pnum),
        ("PNO", pno),
    )
    parts = [f"{name}={_header_value(name, value)}" for name, value in fields if value is not None]
    parts.append(f"CP=&&{format_cp(cp or EMPTY_CP)}&&")
    return ";".join(parts)


def encode_frame(
    *,
    st: str,
    cn: str,
    cp: Cp | None = None,
    qn: str | None = None,
    pw: str | None = None,
    mn: str | None = None,
    flag: int | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    crc: CrcVariant | str = CrcVariant.STANDARD,
) -> bytes:
    """Any frame, e.g. a 2011/2051/2061/2031 upload: `cp=build_cp(fields, pollutants)`."""
    segment = encode_segment(
        st=st, cn=cn, cp=cp, qn=qn, pw=pw, mn=mn, flag=flag, pnum=pnum, pno=pno
    )
    return frame_segment(segment, crc=crc)


def flag_for(edition: Edition, *, ack: bool) -> int:
    """Version bits (2017 → 4, 2025 → 8) plus the "answer me" bit."""
    return (_VERSION_BITS.get(edition, 1) << 2) | (FLAG_ACK if ack else 0)


# ---- answers -------------------------------------------------------------------------------


def _answer(
    cn: Cn,
    *,
    qn: str | None,
    pw: str | None,
    mn: str | None,
    edition: Edition,
    fields: dict[str, CpValue],
) -> bytes:
    if edition is Edition.HJT212_2005:
        in_cp: dict[str, CpValue] = {"QN": qn} if qn is not None else {}
        return encode_frame(
            st=SYSTEM_INTERACTION_ST, cn=cn, pw=pw, mn=mn, cp=build_cp(in_cp | fields)
        )
    return encode_frame(
        st=SYSTEM_INTERACTION_ST,
        cn=cn,
        qn=qn,
        pw=pw,
        mn=mn,
        flag=flag_for(edition, ack=False),
        cp=build_cp(fields),
    )


def build_request_answer(
    *,
    qn: str,
    pw: str | None,
    mn: str | None,
    qn_rtn: QnRtn | int = QnRtn.READY,
    edition: Edition = Edition.HJ212_2017,
) -> bytes:
    """9011 请求应答."""
    if edition is Edition.HJT212_2005:
        # The 2005 examples carry Flag=0 on 9011 only.
        cp = build_cp({"QN": qn, "QnRtn": int(qn_rtn)})
        return encode_frame(
            st=SYSTEM_INTERACTION_ST, cn=Cn.REQUEST_ANSWER, pw=pw, mn=mn, flag=0, cp=cp
        )
    return _answer(
        Cn.REQUEST_ANSWER, qn=qn, pw=pw, mn=mn, edition=edition, fields={"QnRtn": int(qn_rtn)}
    )


def build_execution_result(
    *,
    qn: str,
    pw: str | None,
    mn: str | None,
    exe_rtn: ExeRtn | int = ExeRtn.SUCCESS,
    edition: Edition = Edition.HJ212_2017,
) -> bytes:
    """9012 执行结果."""
    fields: dict[str, CpValue] = {"ExeRtn": int(exe_rtn)}
    return _answer(Cn.EXECUTION_RESULT, qn=qn, pw=pw, mn=mn, edition=edition, fields=fields)


def build_notification_answer(
    *, qn: str | None, pw: str | None, mn: str | None, edition: Edition = Edition.HJ212_2017
) -> bytes:
    """9013 通知应答, e.g. for a 1013 time-calibration request."""
    return _answer(Cn.NOTIFICATION_ANSWER, qn=qn, pw=pw, mn=mn, edition=edition, fields={})


def build_data_answer(
    *,
    qn: str | None,
    pw: str | None,
    mn: str | None,
    cn: str | None = None,
    pnum: int | None = None,
    pno: int | None = None,
    edition: Edition = Edition.HJ212_2017,
) -> bytes:
    """9014 数据应答. The 2005 form has no PW/MN and names the acknowledged CN (and packet).

    Every upload is answered, so this is built directly rather than through `_answer`'s
    general encoder (same bytes, about a third of the CPU; a property test compares the two).
    """
    if edition is not Edition.HJT212_2005:
        tail = _data_answer_tail(pw, mn, edition)  # a device sends the same PW and MN
        return frame_segment(tail if qn is None else f"QN={_header_value('QN', qn)};{tail}")
    parts = [] if qn is None else [f"QN={format_value(qn)}"]
    if cn is not None:
        parts.append(f"CN={format_value(cn)}")
    if pnum is not None and pno is not None:
        parts += (f"PNO={format_value(pno)}", f"PNUM={format_value(pnum)}")
    return frame_segment(f"ST={SYSTEM_INTERACTION_ST};CN={Cn.DATA_ANSWER};CP=&&{';'.join(parts)}&&")


@functools.lru_cache(maxsize=65536)
def _data_answer_tail(pw: str | None, mn: str | None, edition: Edition) -> str:
    """`ST=91;CN=9014;PW=…;MN=…;Flag=…;CP=&&&&`: a 2017-form 9014 after its QN."""
    flag = flag_for(edition, ack=False)
    return encode_segment(st=SYSTEM_INTERACTION_ST, cn=Cn.DATA_ANSWER, pw=pw, mn=mn, flag=flag)


def answer_for(decoded: DecodedFrame) -> bytes | None:
    """The answer a received frame asks for, or None (no ack bit, an answer itself, or bad).

    A 1013 gets 9013 (then send 1012); every other frame with Flag.A=1 gets 9014, one per
    packet of a split upload. 2005 devices get the 2005 form.
    """
    message = decoded.message
    if not decoded.ok or message is None or message.is_answer or not message.is_ack_requested:
        return None
    qn, pw, mn, edition = message.qn, message.pw, message.mn, message.edition
    if message.cn == Cn.TIME_CALIBRATION_REQUEST:
        return build_notification_answer(qn=qn, pw=pw, mn=mn, edition=edition)
    return build_data_answer(
        qn=qn, pw=pw, mn=mn, cn=message.cn, pnum=message.pnum, pno=message.pno, edition=edition
    )


# ---- requests ------------------------------------------------------------------------------


def _request(cn: str, *, st: str, pw: str, mn: str, qn: str, edition: Edition, cp: Cp) -> bytes:
    flag = flag_for(edition, ack=True)
    return encode_frame(st=st, cn=cn, qn=qn, pw=pw, mn=mn, flag=flag, cp=cp)


def build_get_device_time(
    *,
    st: str,
    pw: str,
    mn: str,
    qn: str,
    pol_id: str | None = None,
    edition: Edition = Edition.HJ212_2017,
) -> bytes:
    """1011 提取现场机时间 (PolId names the instrument; None asks the data logger)."""
    cp = build_cp({"PolId": pol_id} if pol_id else {})
    return _request(Cn.GET_DEVICE_TIME, st=st, pw=pw, mn=mn, qn=qn, edition=edition, cp=cp)


def build_set_device_time(
    *,
    st: str,
    pw: str,
    mn: str,
    qn: str,
    system_time: datetime,
    pol_id: str | None = None,
    edition: Edition = Edition.HJ212_2017,
) -> bytes:
    """1012 设置现场机时间; `system_time` is aware and sent as Asia/Shanghai local time."""
    fields: dict[str, CpValue] = {"PolId": pol_id} if pol_id else {}
    cp = build_cp(fields | {"SystemTime": system_time})
    return _request(Cn.SET_DEVICE_TIME, st=st, pw=pw, mn=mn, qn=qn, edition=edition, cp=cp)


def build_history_request(
    *,
    cn: str,
    st: str,
    pw: str,
    mn: str,
    qn: str,
    begin: datetime,
    end: datetime,
    edition: Edition = Edition.HJ212_2017,
) -> bytes:
    """2031/2041/2051/2061 back-fill request for [begin, end] (interval start times).

    2017 (表 C.20–C.22) separates the two times with `;`, 2005 with `,`.
    """
    if cn not in _HISTORY_CNS:
        raise Hj212Error("bad_cn", f"CN {cn} is not a history request (2031/2041/2051/2061)")
    begin_text, end_text = format_hj_time(begin), format_hj_time(end)
    if end_text < begin_text:  # same-width digit strings sort in time order
        raise Hj212Error("bad_time_range", "EndTime is before BeginTime")
    # One `,`-joined group in 2005, two `;`-separated items in 2017.
    end_group = 0 if edition is Edition.HJT212_2005 else 1
    items = (
        CpItem(None, "BeginTime", begin_text, 0),
        CpItem(None, "EndTime", end_text, end_group),
    )
    cp = make_cp(items)[0]
    return _request(cn, st=st, pw=pw, mn=mn, qn=qn, edition=edition, cp=cp)


def build_minute_history_request(
    *, st: str, pw: str, mn: str, qn: str, begin: datetime, end: datetime
) -> bytes:
    return build_history_request(
        cn=Cn.MINUTE_DATA, st=st, pw=pw, mn=mn, qn=qn, begin=begin, end=end
    )


def build_hourly_history_request(
    *, st: str, pw: str, mn: str, qn: str, begin: datetime, end: datetime
) -> bytes:
    return build_history_request(
        cn=Cn.HOURLY_DATA, st=st, pw=pw, mn=mn, qn=qn, begin=begin, end=end
    )
