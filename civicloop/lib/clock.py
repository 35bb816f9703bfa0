"""The current time, in one place.

Services ask `now()` instead of `timezone.now()` so that the demo generator can write history
("this case was reported 40 days ago") through the real services by running them inside
`frozen(at)`. Tests may use time-machine instead; both work.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")
_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("frozen", default=None)


def now() -> datetime:
    return _frozen.get() or timezone.now()


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    if timezone.is_naive(at):
        raise ValueError("frozen() needs an aware datetime")
    token = _frozen.set(at)
    try:
        yield
    finally:
        _frozen.reset(token)


def local_date(at: datetime | None = None) -> date:
    """The calendar date in Asia/Shanghai: day boundaries follow local time."""
    return (at or now()).astimezone(SHANGHAI).date()
