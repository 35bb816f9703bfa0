"""Which case events concern whom, and on which channels. Every person also sees every event
in the timeline; these are the ones they are told about. The SLA levels follow the ladder the
event carries (`cases.audience.LADDER`)."""

from __future__ import annotations

from dataclasses import dataclass

from civicloop.cases.audience import Audience
from civicloop.cases.models import CaseEvent, EventType
from civicloop.notifications.models import Channel

A = Audience
E = EventType
INBOX = frozenset({Channel.INBOX})
INBOX_SMS = frozenset({Channel.INBOX, Channel.SMS})
ALL = frozenset({Channel.INBOX, Channel.EMAIL, Channel.SMS})
UNIT = (A.UNIT_HANDLERS, A.UNIT_HEADS)


@dataclass(frozen=True)
class Rule:
    audiences: tuple[Audience, ...]
    channels: frozenset[Channel] = INBOX


RULES: dict[str, tuple[Rule, ...]] = {
    E.REPORTED: (Rule((A.REPORTER,)), Rule((A.TOWN_CLERKS,))),
    E.VERIFICATION_REQUESTED: (Rule((A.GRID_WORKERS,), INBOX_SMS),),
    E.SITE_CONFIRMED: (Rule((A.TOWN_CLERKS,)),),
    E.FILED: (Rule((A.REPORTER,)),),
    E.REJECTED: (Rule((A.REPORTER,), ALL),),
    E.REINSTATED: (Rule((A.REPORTER,)),),
    E.MERGED: (Rule((A.REPORTER,), ALL),),
    E.DISPATCHED: (Rule((A.REPORTER,)), Rule(UNIT, INBOX_SMS)),
    E.RECALLED: (Rule((A.NAMED_UNIT,)),),
    E.RETURNED: (Rule((A.TOWN_DISPATCHERS,), INBOX_SMS),),
    E.CLAIMED: (Rule((A.REPORTER,)),),
    E.EXTENSION_REQUESTED: (Rule((A.TOWN_DISPATCHERS,)),),
    E.EXTENSION_APPROVED: (Rule(UNIT),),
    E.EXTENSION_DENIED: (Rule(UNIT),),
    E.SUSPENSION_REQUESTED: (Rule((A.TOWN_DISPATCHERS,)),),
    E.SUSPENSION_APPROVED: (Rule(UNIT), Rule((A.REPORTER,))),
    E.SUSPENSION_DENIED: (Rule(UNIT),),
    E.RESUMED: (Rule(UNIT), Rule((A.REPORTER,))),
    E.SUBMITTED: (Rule((A.TOWN_VERIFIERS, A.GRID_WORKERS)), Rule((A.REPORTER,))),
    E.CHECK_PASSED: (Rule((A.TOWN_SHIFT_LEADS,)),),
    E.CHECK_FAILED: (Rule(UNIT, INBOX_SMS),),
    E.CLOSED: (Rule((A.REPORTER,), ALL), Rule(UNIT)),
    E.REOPENED: (Rule((A.TOWN_CLERKS, A.TOWN_SHIFT_LEADS), INBOX_SMS), Rule((A.REPORTER,))),
    E.PUBLIC_UPDATE: (Rule((A.REPORTER,)),),
    E.PHOTOS_ADDED: (Rule((A.UNIT_HANDLERS,)),),
    E.ASSIST_ADDED: (Rule((A.NAMED_UNIT,), INBOX_SMS), Rule((A.UNIT_HANDLERS,))),
    E.ASSIST_ENDED: (Rule((A.NAMED_UNIT,)),),
    E.FOLLOWED: (Rule((A.REPORTER,)),),
    E.MERGED_IN: (Rule((A.REPORTER,)),),
    E.RATED: (Rule((*UNIT, A.TOWN_SHIFT_LEADS)),),
    E.SUPERVISED: (Rule((*UNIT, A.ASSISTING_UNITS, A.TOWN_CENTRE), INBOX_SMS),),
    E.SUPERVISION_LIFTED: (Rule(UNIT),),
}
SLA_CHANNELS = {
    E.SLA_WARNING: INBOX,
    E.SLA_OVERDUE: INBOX_SMS,
    E.SLA_SERIOUS: ALL,
}


def rules_for(event: CaseEvent) -> tuple[Rule, ...]:
    if event.type in SLA_CHANNELS:
        ladder = tuple(Audience(a) for a in event.data.get("notify", ()))
        return (Rule(ladder, SLA_CHANNELS[EventType(event.type)]),)
    rules = RULES.get(event.type, ())
    if not event.is_public:
        # Internal events never reach the reporter or the followers.
        rules = tuple(r for r in rules if A.REPORTER not in r.audiences)
    return rules
