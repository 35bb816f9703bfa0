"""The writers of the case timeline. Only services call these; events are never updated."""

from __future__ import annotations

from typing import Any

from civicloop.accounts.selectors import Actor
from civicloop.cases.models import Case, CaseEvent, EventType
from civicloop.lib import clock


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
    return CaseEvent.objects.create(
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
