"""The writers of the case timeline, and the hook other apps listen on.

Only services (and the SLA sweep) call `event_record`; events are never changed except for their
outbox marker. Apps that react to case events (notifications) `subscribe()` a listener, usually
in their `AppConfig.ready()`; `cases` never imports them.

The event table is the outbox. An event is written with `delivered = False` in the transaction
of the case change; `deliver_pending` locks the oldest undelivered events (`SELECT … FOR
UPDATE`, so several workers never deliver one event twice and take the events in id order),
runs the listeners on each and marks them delivered, all in one transaction: nothing is lost if
a process dies between the case change and the delivery, and listeners never see an event that
was rolled back. A failing listener is logged and cannot undo the case change (each listener
runs in its own savepoint).

Who drains the outbox is the setting `CASE_EVENT_DELIVERY`:
- `worker` (production): the request only writes the event; `civicloop notify --loop` delivers.
- `commit` (the development default): the events of a transaction are delivered right after it
  commits, in the same process (`transaction.on_commit`); a worker, if one runs, only picks up
  what a crashed process left behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction

from civicloop.accounts.selectors import Actor
from civicloop.cases.models import Case, CaseEvent, EventType
from civicloop.lib import clock, rows

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


class Delivery(StrEnum):
    WORKER = "worker"
    COMMIT = "commit"


def delivery_mode() -> Delivery:
    return Delivery(getattr(settings, "CASE_EVENT_DELIVERY", Delivery.COMMIT))


def _deliver(event: CaseEvent) -> None:
    for listener in list(_listeners):
        try:
            with transaction.atomic():  # a failing listener must not abort the outbox batch
                listener(event)
        except Exception:
            logger.exception("case event listener %r failed on event %s", listener, event.pk)


def deliver_pending(*, limit: int = 200, only: Sequence[int] | None = None) -> int:
    """Run the listeners on up to `limit` undelivered events, oldest first, and mark them
    delivered, in one transaction; the number of events delivered. `only` restricts it to the
    given event ids (the after-commit delivery of `commit` mode)."""
    with transaction.atomic():
        pending = CaseEvent.objects.select_for_update().filter(delivered=False)
        if only is not None:
            pending = pending.filter(pk__in=list(only))
        batch = list(pending.order_by("pk")[:limit])
        for event in batch:
            _deliver(event)
        if batch:
            CaseEvent.objects.filter(pk__in=[e.pk for e in batch]).update(delivered=True)
        return len(batch)


def drain(
    *, batch: int = 200, pause: float = 0.0, stopping: Callable[[], bool] | None = None
) -> int:
    """Deliver every event committed so far (what `civicloop notify` does each round), `batch`
    events per transaction, waiting `pause` seconds between transactions. `stopping` is asked
    after each transaction: a worker told to stop (SIGTERM) leaves a backlog to the next one
    instead of delivering all of it first; what it delivered is committed."""
    total = 0
    while True:
        done = deliver_pending(limit=batch)
        total += done
        if done < batch:  # the outbox is empty; later events are the next round's
            return total
        if stopping is not None and stopping():
            return total
        if pause:
            time.sleep(pause)


def pending_count() -> int:
    return CaseEvent.objects.filter(delivered=False).count()


def publish(event: CaseEvent) -> None:
    """Hand a new event to the outbox's delivery (after commit in `commit` mode)."""
    if delivery_mode() == Delivery.COMMIT:
        transaction.on_commit(lambda: deliver_pending(only=[event.pk]))


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
    event = event_new(
        case=case,
        type=type,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        note=note,
        is_public=is_public,
        data=data,
    )
    rows.insert(event)
    publish(event)
    return event


def event_new(
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
    """The event, not yet inserted: `event_record` inserts and publishes it; a new case's
    first event is inserted with the case (`services.case_report`), then `publish`ed."""
    # The case's version was bumped by the same transaction under a row lock (or the case is
    # being created), so it is a gap-free, race-free sequence number for its events.
    return CaseEvent(
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
