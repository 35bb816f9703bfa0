"""The writers of the case timeline, and the hook other apps listen on.

Only services (and the SLA sweep) call `event_record`; events are never updated. Apps that react
to case events (notifications) `subscribe()` a listener, usually in their `AppConfig.ready()`;
`cases` never imports them. Listeners run after the transaction that wrote the event commits,
so they never see an event that was rolled back, and a failing listener cannot undo a case
change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from civicloop.accounts.selectors import Actor
from civicloop.cases.models import Case, CaseEvent, EventType
from civicloop.lib import clock

logger = logging.getLogger(__name__)

# What a listener returns is ignored.
CaseEventListener = Callable[[CaseEvent], object]
_listeners: list[CaseEventListener] = []


def subscribe(listener: CaseEventListener) -> None:
    """Call `listener(event)` after each committed case event (once per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: CaseEventListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def listeners() -> list[CaseEventListener]:
    return list(_listeners)


def _deliver(event: CaseEvent) -> None:
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:
            logger.exception("case event listener %r failed on event %s", listener, event.pk)


def _publish(event: CaseEvent) -> None:
    if _listeners:
        transaction.on_commit(lambda: _deliver(event))


def event_record(
    *,
    case: Case,
    type: EventType,
    actor: Actor | None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    note: str = "",
    is_public: bool = True,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    # The case's version was bumped by the same transaction under a row lock, so it is a
    # gap-free, race-free sequence number for its events.
    event = CaseEvent.objects.create(
        case=case,
        seq=case.version,
        type=type,
        at=clock.now(),
        actor=actor.user if actor else None,
        actor_role=actor.role if actor else "",
        actor_org=actor.organisation if actor else None,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        note=note,
        is_public=is_public,
        data=data or {},
    )
    _publish(event)
    return event
