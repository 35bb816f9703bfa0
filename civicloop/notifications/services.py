"""From case events to messages: the inbox entry of each person concerned, then email and SMS.

`notify_case_event` is the listener `NotificationsConfig.ready()` subscribes to
`cases.events`; it runs after the case change committed. It is idempotent: a person is told of
an event once (a unique constraint), so a repeated call sends nothing twice.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils.translation import gettext as _

from civicloop.accounts.models import User
from civicloop.cases.audience import Audience
from civicloop.cases.models import Case, CaseEvent, EventType, Source, Stage
from civicloop.lib import clock
from civicloop.lib.clock import SHANGHAI
from civicloop.lib.errors import NotFound
from civicloop.notifications.audiences import people
from civicloop.notifications.channels import SendResult, send_email, sms_backend
from civicloop.notifications.models import Channel, Delivery, Notification
from civicloop.notifications.rules import Rule, rules_for

SMS_SIGNATURE = "【义乌基层治理】"
SLA_EVENTS = {EventType.SLA_WARNING, EventType.SLA_OVERDUE, EventType.SLA_SERIOUS}


@transaction.atomic
def notify_case_event(event: CaseEvent) -> list[Notification]:
    """Everything said about one event is written in one transaction (one commit)."""
    rules = rules_for(event)
    if not rules:
        return []
    case = Case.objects.select_related("category__parent", "assigned_org").get(pk=event.case_id)
    wanted = _recipients(rules, case, event)
    if event.actor_id is not None:
        wanted.pop(event.actor_id, None)  # nobody is told of what they did themselves
    title, body = compose(event, case)
    created = _inbox(event, case, wanted, title, body)
    Delivery.objects.bulk_create(_send(created, wanted))
    _tell_the_caller(event, case, rules, title)
    return created


def _recipients(rules: tuple[Rule, ...], case: Case, event: CaseEvent) -> dict[int, set[Channel]]:
    wanted: dict[int, set[Channel]] = defaultdict(set)
    for rule in rules:
        for audience in rule.audiences:
            for user_id in people(audience, case, event):
                wanted[user_id] |= rule.channels
    return wanted


def _inbox(
    event: CaseEvent, case: Case, wanted: dict[int, set[Channel]], title: str, body: str
) -> list[Notification]:
    told = set(Notification.objects.filter(event=event).values_list("user_id", flat=True))
    now = clock.now()
    return Notification.objects.bulk_create(
        Notification(
            user_id=user_id,
            case=case,
            event=event,
            kind=event.type,
            title=title,
            body=body,
            created_at=now,
        )
        for user_id in sorted(set(wanted) - told)
    )


def _send(created: list[Notification], wanted: dict[int, set[Channel]]) -> list[Delivery]:
    """Email and SMS for the new notifications that ask for them; the records to store."""
    outgoing = [n for n in created if wanted[n.user_id] - {Channel.INBOX}]
    users = User.objects.in_bulk([n.user_id for n in outgoing])
    deliveries = []
    for notification in outgoing:
        user, channels = users[notification.user_id], wanted[notification.user_id]
        if Channel.EMAIL in channels and user.email:
            result = send_email(to=user.email, subject=notification.title, body=notification.body)
            deliveries.append(
                _record(notification, Channel.EMAIL, user.email, result, subject=notification.title)
            )
        if Channel.SMS in channels and user.mobile:
            result = sms_backend().send(to=user.mobile, text=sms_text(notification.title))
            deliveries.append(_record(notification, Channel.SMS, user.mobile, result))
    return deliveries


def _tell_the_caller(event: CaseEvent, case: Case, rules: tuple[Rule, ...], title: str) -> None:
    """A 12345 caller has no account: the SMS of their public steps goes to the number given."""
    to_reporter = any(Audience.REPORTER in r.audiences and Channel.SMS in r.channels for r in rules)
    phone = case.reporter_phone
    if not (to_reporter and event.is_public and case.source == Source.HOTLINE and phone):
        return
    if Delivery.objects.filter(event=event, to=phone).exists():
        return
    text = sms_text(title)
    result = sms_backend().send(to=phone, text=text)
    Delivery.objects.create(
        event=event,
        channel=Channel.SMS,
        to=phone,
        text=text,
        status=result.status,
        detail=result.detail,
        at=clock.now(),
    )


def _record(
    notification: Notification,
    channel: Channel,
    to: str,
    result: SendResult,
    *,
    subject: str = "",
) -> Delivery:
    return Delivery(
        notification=notification,
        event=notification.event,
        channel=channel,
        to=to,
        subject=subject,
        text=sms_text(notification.title) if channel == Channel.SMS else notification.body,
        status=result.status,
        detail=result.detail,
        at=clock.now(),
    )


# ---------------------------------------------------------------- wording


def _what(event: CaseEvent) -> str:
    what = event.get_type_display()
    if event.type in SLA_EVENTS and event.data.get("stage") in Stage.values:
        return f"{Stage(event.data['stage']).label}{what}"
    return what


def _local(value: object) -> str:
    from datetime import datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return ""


def compose(event: CaseEvent, case: Case) -> tuple[str, str]:
    """The title and body of the message for an event (the same for everyone told)."""
    title = _("【%(what)s】案件%(number)s") % {"what": _what(event), "number": case.number}
    lines = [_("分类：%(category)s") % {"category": case.category}]
    if case.address:
        lines.append(_("地址：%(address)s") % {"address": case.address})
    if case.assigned_org is not None:
        lines.append(_("责任单位：%(org)s") % {"org": case.assigned_org.name})
    due = event.data.get("due_at") if event.type in SLA_EVENTS else case.due_at
    if due and case.is_open:
        lines.append(_("处置期限：%(due)s") % {"due": _local(due)})
    if event.note:
        lines.append(_("说明：%(note)s") % {"note": event.note})
    return title, "\n".join(lines)


def sms_text(title: str) -> str:
    return f"{SMS_SIGNATURE}{title}"


# ---------------------------------------------------------------- the reader's side


@transaction.atomic
def notification_mark_read(*, notification: Notification, by: User) -> Notification:
    if notification.user_id != by.pk:
        raise NotFound("notification_not_found", _("消息不存在"))
    if notification.read_at is None:
        notification.read_at = clock.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


@transaction.atomic
def notifications_mark_all_read(*, by: User) -> int:
    return Notification.objects.filter(user=by, read_at__isnull=True).update(read_at=clock.now())
