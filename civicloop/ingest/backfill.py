"""Back-fill: after a gap, ask the device for the minute (2051) and hourly (2061) data it kept.

When a device's first data frame on a new connection is newer than the point's
`last_data_time` by more than the gap threshold, the listener sends history requests for the
missing span, one at a time: request (Flag=5) → device answers 9011 (QnRtn) → uploads the
records, each acknowledged with 9014 like live data → 9012 (ExeRtn). The uploads are stored
by the normal path; storage is idempotent, so overlapping windows cost nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicloop.ingest.hj212 import (
    Cn,
    Edition,
    ExeRtn,
    Message,
    QnRtn,
    build_history_request,
    make_qn,
)
from civicloop.ingest.metrics import IngestMetrics
from civicloop.lib import clock

logger = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class BackfillSettings:
    enabled: bool = True
    gap: timedelta = timedelta(minutes=10)  # shorter silences are not worth a request
    max_span: timedelta = timedelta(hours=72)  # never ask for more than this
    answer_timeout: float = 120.0  # seconds to wait for a request's 9012 before the next


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    cn: str  # 2051 or 2061
    begin: datetime  # interval start of the first record wanted
    end: datetime  # interval start of the last record wanted (inclusive, as in HJ 212)


def _floor(at: datetime, step: timedelta) -> datetime:
    # Asia/Shanghai is UTC+8 all year, so whole minutes and hours are the same in UTC.
    seconds = int(step.total_seconds())
    stamp = int(at.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=at.tzinfo)


def plan_backfill(
    last: datetime | None, first_new: datetime, settings: BackfillSettings
) -> list[HistoryWindow]:
    """The history requests for the silence between `last` and `first_new`, hours first.

    The record of minute M is sent at M+1 (hour H at H+1h), so the minute and the hour
    that contain `last` are missing too, and so is the record that ended just before
    `first_new`.
    """
    if not settings.enabled or last is None or first_new - last <= settings.gap:
        return []
    begin = max(last, first_new - settings.max_span)
    windows = []
    for cn, step in ((Cn.HOURLY_DATA, HOUR), (Cn.MINUTE_DATA, MINUTE)):
        start, end = _floor(begin, step), _floor(first_new, step) - step
        if start <= end:
            windows.append(HistoryWindow(cn.value, start, end))
    return windows


class BackfillTracker:
    """Sends history requests and matches the devices' 9011/9012 answers to them."""

    def __init__(self, settings: BackfillSettings, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._waiting: dict[str, asyncio.Future[None]] = {}  # QN → done when 9012 arrives
        self._last_qn = ""

    def next_qn(self) -> str:
        """A fresh request number: the current time, nudged forward if already used."""
        at = clock.now()
        qn = make_qn(at)
        while qn <= self._last_qn:
            at += timedelta(milliseconds=1)
            qn = make_qn(at)
        self._last_qn = qn
        return qn

    def request(
        self, window: HistoryWindow, *, st: str, pw: str, mn: str, edition: Edition
    ) -> tuple[str, bytes]:
        qn = self.next_qn()
        frame = build_history_request(
            cn=window.cn,
            st=st,
            pw=pw,
            mn=mn,
            qn=qn,
            begin=window.begin,
            end=window.end,
            edition=edition if edition is not Edition.UNKNOWN else Edition.HJ212_2017,
        )
        return qn, frame

    async def wait_for_answer(self, qn: str) -> bool:
        """True when the device reported the request executed (or refused) in time."""
        done = asyncio.get_running_loop().create_future()
        self._waiting[qn] = done
        try:
            async with asyncio.timeout(self.settings.answer_timeout):
                await done
        except TimeoutError:
            logger.info(
                "history request %s: no 9012 within %.0f s", qn, self.settings.answer_timeout
            )
            return False
        finally:
            self._waiting.pop(qn, None)
        return True

    def on_answer(self, message: Message) -> None:
        """A 9011/9012 from a device: count it and release the waiting request."""
        if message.cn == Cn.REQUEST_ANSWER:
            rtn = message.cp.fields.get("QnRtn", "")
            finished = rtn not in ("", str(int(QnRtn.READY)))
        elif message.cn == Cn.EXECUTION_RESULT:
            rtn = message.cp.fields.get("ExeRtn", "")
            finished = True
        else:
            return
        waiting = self._waiting.get(message.qn or "")
        if waiting is None:
            return
        self.metrics.backfill_replies.inc(cn=message.cn, rtn=rtn[:8])
        if rtn not in ("", str(int(QnRtn.READY)), str(int(ExeRtn.SUCCESS))):
            logger.info(
                "history request %s answered %s=%s by %s", message.qn, message.cn, rtn, message.mn
            )
        if finished and not waiting.done():
            waiting.set_result(None)
