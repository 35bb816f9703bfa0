"""How case facts are shown: state colours, the resident's four steps, deadlines, reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from civicloop.cases.models import Case, ClosureReason, RejectReason, ReturnReason, State
from civicloop.lib import clock

S = State

# A colour family per group of states (CSS classes tone-*); text always says the state too.
_TONES = {
    "new": {S.DRAFT, S.REPORTED, S.VERIFYING, S.REOPENED},
    "wait": {S.FILED, S.DISPATCHED, S.RETURNED},
    "work": {S.ACCEPTED, S.REWORK, S.EXTENSION_REQUESTED, S.SUSPENSION_REQUESTED},
    "check": {S.SUBMITTED},
    "done": {S.CLOSED},
    "off": {S.REJECTED, S.MERGED, S.SUSPENDED},
}
TONE_OF = {state: tone for tone, states in _TONES.items() for state in states}

# The four steps a resident follows: 上报 → 受理 → 处置 → 结案.
_STEP_OF = {
    **dict.fromkeys([S.DRAFT, S.REPORTED, S.VERIFYING], 1),
    **dict.fromkeys([S.FILED, S.DISPATCHED, S.RETURNED, S.REOPENED], 2),
    **dict.fromkeys(
        [
            S.ACCEPTED,
            S.REWORK,
            S.EXTENSION_REQUESTED,
            S.SUSPENSION_REQUESTED,
            S.SUSPENDED,
            S.SUBMITTED,
        ],
        3,
    ),
    S.CLOSED: 4,
}

# States in which the disposal clock does not run.
_CLOCK_STOPPED = frozenset({S.DRAFT, S.REJECTED, S.MERGED, S.CLOSED, S.SUSPENDED})

_REASONS = {
    **{c.value: c.label for c in RejectReason},
    **{c.value: c.label for c in ReturnReason},
    **{c.value: c.label for c in ClosureReason},
}


def tone(state: str) -> str:
    return TONE_OF.get(State(state), "off")


def step(state: str) -> int:
    """1–4 along the resident's steps; 0 for a report that ended without handling."""
    return _STEP_OF.get(State(state), 0)


def reason_label(code: str) -> str:
    label = _REASONS.get(code)
    return str(label) if label is not None else code


def duration_text(seconds: float) -> str:
    """A compact "2天3小时" / "45分钟"; the largest two units are enough for a deadline."""
    minutes = int(abs(seconds)) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}{_('天')}{hours}{_('小时')}" if hours else f"{days}{_('天')}"
    if hours:
        return f"{hours}{_('小时')}{minutes}{_('分钟')}" if minutes else f"{hours}{_('小时')}"
    return f"{minutes}{_('分钟')}"


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    seconds_left: float
    is_running: bool

    @property
    def is_overdue(self) -> bool:
        return self.is_running and self.seconds_left < 0

    @property
    def text(self) -> str:
        if not self.is_running:
            return _("计时暂停")
        if self.is_overdue:
            return _("已超期%(time)s") % {"time": duration_text(self.seconds_left)}
        return _("剩余%(time)s") % {"time": duration_text(self.seconds_left)}


def deadline(case: Case, now: datetime | None = None) -> Deadline | None:
    """The disposal deadline of an open, filed case; None before filing, once the case is
    closed, or without a time limit."""
    if case.due_at is None or not case.is_open:
        return None
    now = now or clock.now()
    running = State(case.state) not in _CLOCK_STOPPED
    return Deadline(case.due_at, (case.due_at - now).total_seconds(), running)
