"""`civicloop hj212 replay`: stored raw frames judged again and stored (see replay.py)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any, Protocol

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from civicloop.ingest.replay import ReplayOutcome, ReplaySelection, ReplaySummary, replay_frames
from civicloop.lib import clock
from civicloop.lib.worker import positive_int
from civicloop.monitoring.models import FrameVerdict, RejectReason

REPLAY_HELP = """\
Replays raw HJ 212 frames kept in the audit table (monitoring RawFrame): each is decoded
again, judged as the listener judges it (MN registered, password, CRC variant, …) and, if it
passes now, its readings are stored through the monitoring writer. Already stored readings
are kept (unique per point, kind, code and data time). No answer is sent to any device.
A rejected frame that passes becomes `accepted` in place. Default: the rejected frames.

  civicloop hj212 replay --mn 33078200000001 --reason unknown_mn --dry-run
  civicloop hj212 replay --mn 33078200000001 --reason unknown_mn
  civicloop hj212 replay --since 2024-05-01 --until 2024-05-02 --verdict all
  civicloop hj212 replay --id 1200 --id 1201
"""


class Writer(Protocol):
    def write(self, msg: str = "", style_func: Any = None, ending: str | None = None) -> None: ...


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--id", dest="ids", type=positive_int, action="append", default=[], help="raw frame id"
    )
    parser.add_argument("--mn", help="MN of the frames")
    parser.add_argument("--since", help="received at or after (ISO date/time; local if naive)")
    parser.add_argument("--until", help="received before (ISO date/time; local if naive)")
    parser.add_argument(
        "--verdict",
        choices=[*FrameVerdict.values, "all"],
        default=FrameVerdict.REJECTED,
        help="which frames (default rejected)",
    )
    parser.add_argument(
        "--reason",
        dest="reasons",
        choices=RejectReason.values,
        action="append",
        default=[],
        help="reject reason (repeatable)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would happen; write nothing"
    )


def run(options: dict[str, Any], out: Writer) -> None:
    selection = _selection(options)
    dry_run = options["dry_run"]
    summary = ReplaySummary()
    for outcome in replay_frames(selection, dry_run=dry_run):
        summary.add(outcome)
        out.write(_outcome_line(outcome, dry_run=dry_run))
    out.write(_summary_line(summary, dry_run=dry_run))


def _selection(options: dict[str, Any]) -> ReplaySelection:
    since, until = _time(options["since"], "--since"), _time(options["until"], "--until")
    if since is not None and until is not None and since >= until:
        raise CommandError(_("--since 必须早于 --until"))
    verdict = None if options["verdict"] == "all" else options["verdict"]
    if options["reasons"] and verdict == FrameVerdict.ACCEPTED:
        raise CommandError(_("--reason 只适用于被拒绝的报文，不能与 --verdict accepted 同用"))
    return ReplaySelection(
        ids=tuple(options["ids"]),
        mn=options["mn"],
        since=since,
        until=until,
        verdict=verdict,
        reasons=tuple(options["reasons"]),
    )


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandError(
            _("%(option)s 不是有效的日期或时间：%(text)r") % {"option": option, "text": text}
        ) from error
    # A bare date or time is Beijing time, as the operators read it on the admin pages.
    return timezone.make_aware(value, clock.SHANGHAI) if timezone.is_naive(value) else value


def _outcome_line(outcome: ReplayOutcome, *, dry_run: bool) -> str:
    values = {
        "id": outcome.frame_id,
        "mn": outcome.mn or "?",
        "cn": outcome.cn or "?",
        "was": outcome.was,
        "reason": outcome.reason,
        "rows": outcome.rows,
        "stored": outcome.stored,
    }
    if not outcome.accepted:
        return _("#%(id)d %(mn)s %(cn)s：%(was)s → 仍拒绝（%(reason)s）") % values
    if dry_run:
        return _("#%(id)d %(mn)s %(cn)s：%(was)s → 将接收，数据 %(rows)d 条") % values
    return (
        _("#%(id)d %(mn)s %(cn)s：%(was)s → 接收，数据 %(rows)d 条，新写入 %(stored)d 条") % values
    )


def _summary_line(summary: ReplaySummary, *, dry_run: bool) -> str:
    counts = sorted(summary.rejected.items())
    reasons = _("，").join(f"{reason} {count}" for reason, count in counts)
    values = {
        "frames": summary.frames,
        "accepted": summary.accepted,
        "stored": summary.stored,
        "rejected": summary.rejected.total(),
        "reasons": _("（%(reasons)s）") % {"reasons": reasons} if reasons else "",
    }
    if dry_run:
        return (
            _(
                "试运行，未写入：重放 %(frames)d 个报文，将接收 %(accepted)d 个，"
                "仍拒绝 %(rejected)d 个%(reasons)s"
            )
            % values
        )
    return (
        _(
            "重放 %(frames)d 个报文：接收 %(accepted)d 个，新写入数据 %(stored)d 条，"
            "仍拒绝 %(rejected)d 个%(reasons)s"
        )
        % values
    )
