"""Who is told of what: the inbox, email and SMS (recorded, not faked) for case events, after
the case change commits; the ladder of the SLA sweep; the inbox API."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from civicloop.accounts.models import Role, User
from civicloop.accounts.services import membership_grant, user_create
from civicloop.cases import events, services
from civicloop.cases.models import (
    Case,
    CaseEvent,
    Category,
    RejectReason,
    ReturnReason,
    Source,
    State,
)
from civicloop.cases.sweep import sla_sweep
from civicloop.cases.tests.conftest import local
from civicloop.cases.tests.journeys import case_in, photo, reported
from civicloop.conftest import IN_GRID, People, World
from civicloop.lib import clock
from civicloop.notifications.models import Delivery, DeliveryStatus, Notification
from civicloop.notifications.services import notify_case_event

pytestmark = pytest.mark.usefixtures("categories")
Capture = Callable[..., Any]


def _told(event_type: str) -> dict[str, str]:
    """Who got an inbox entry for events of this type: name → title."""
    rows = Notification.objects.filter(kind=event_type).select_related("user")
    return {n.user.name: n.title for n in rows}


def _deliveries(channel: str) -> list[tuple[str, str]]:
    return sorted(Delivery.objects.filter(channel=channel).values_list("to", "status"))


def _unit_head(world: World) -> User:
    user = user_create(mobile="13800000021", name="孙所长", email="sun@example.cn")
    membership_grant(
        user=user, role=Role.UNIT_HEAD, region=world.town, organisation=world.sanitation
    )
    return user


def test_cases_listen_through_a_hook_not_an_import() -> None:
    assert notify_case_event in events.listeners()
    cases_dir = Path(events.__file__).parent
    sources = [p.read_text(encoding="utf-8") for p in cases_dir.rglob("*.py")]
    assert not [s for s in sources if "civicloop.notifications" in s]


def test_a_dispatch_tells_the_unit_and_the_reporter(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    head = _unit_head(world)
    case = case_in(State.FILED, people, world)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    number = case.number
    assert _told("dispatched") == {
        "赵磊": f"【派遣】案件{number}",
        "孙所长": f"【派遣】案件{number}",
        "王芳": f"【派遣】案件{number}",
    }
    body = Notification.objects.get(user=people.handler, kind="dispatched").body
    assert body.splitlines()[:2] == ["分类：事件/市容环境/暴露垃圾", "责任单位：稠城街道环卫所"]
    # SMS to the unit, recorded as not sent: there is no gateway behind the default backend.
    assert _deliveries("sms") == [
        (people.handler.mobile, DeliveryStatus.LOGGED),
        (head.mobile, DeliveryStatus.LOGGED),
    ]
    sms = Delivery.objects.filter(channel="sms")[0]
    assert (sms.text, sms.detail) == (
        f"【义乌基层治理】【派遣】案件{number}",
        "未配置短信网关，仅记录待发内容",
    )


def test_nothing_is_told_before_commit_or_after_rollback(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        reported(people)
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert Notification.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reported(people)
    assert len(callbacks) == 1
    assert Notification.objects.count() == 0


def test_internal_steps_reach_staff_only(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    case = case_in(State.ACCEPTED, people, world)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_request_extension(
            case=case, by=people.handler, until=clock.now().replace(year=2099), note="需调车"
        )
    assert set(_told("extension_requested")) == {"张伟"}
    returned = case_in(State.DISPATCHED, people, world)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_return(
            case=returned, by=people.handler, reason=ReturnReason.NOT_OUR_DUTY, note="非环卫职责"
        )
    assert set(_told("returned")) == {"张伟"}


def test_the_reporter_and_followers_hear_the_public_steps(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    people.resident.email = "wangfang@example.cn"
    people.resident.save()
    case = case_in(State.SUBMITTED, people, world)
    services.case_follow(case=case, by=people.volunteer)
    case.refresh_from_db()
    services.case_check(case=case, by=people.verifier, passed=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_close(case=case, by=people.shift_lead)
    assert set(_told("closed")) == {"王芳", "陈红", "赵磊"}
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["wangfang@example.cn"], f"【结案】案件{case.number}")
    ]
    assert _deliveries("email") == [("wangfang@example.cn", DeliveryStatus.SENT)]
    assert _deliveries("sms") == [
        (people.resident.mobile, DeliveryStatus.LOGGED),
        (people.volunteer.mobile, DeliveryStatus.LOGGED),
    ]


def test_a_hotline_caller_gets_the_sms(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    case = services.case_report(
        by=people.clerk,
        category=Category.objects.get(kind="event", full_code="0102"),
        description="市民来电：桥下垃圾",
        lat=IN_GRID[0],
        lon=IN_GRID[1],
        source=Source.HOTLINE,
        reporter_name="张先生",
        reporter_phone="13912345678",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.case_reject(
            case=case, by=people.clerk, reason=RejectReason.RESOLVED, note="现场已无垃圾"
        )
    assert _deliveries("sms") == [("13912345678", DeliveryStatus.LOGGED)]
    assert "陈静" not in _told("rejected")  # the clerk registered it, and is the actor


def test_the_sweep_climbs_the_ladder(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    head = _unit_head(world)
    city_lead = user_create(mobile="13800000022", name="市值班长", email="city@example.cn")
    membership_grant(user=city_lead, role=Role.SHIFT_LEAD, region=world.city)
    with clock.frozen(local(2026, 11, 26, 9)):
        case = reported(people)
        services.case_file(case=case, by=people.clerk)
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
        services.case_claim(case=case, by=people.handler)
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=local(2026, 11, 26, 15))
    assert set(_told("sla_warning")) == {"赵磊"}
    assert set(_told("sla_overdue")) == {"赵磊", "孙所长"}
    assert _told("sla_overdue")["孙所长"] == f"【处置超期】案件{case.number}"
    assert _deliveries("sms") == [
        (people.handler.mobile, DeliveryStatus.LOGGED),
        (head.mobile, DeliveryStatus.LOGGED),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep(now=local(2026, 11, 27, 10))
    assert set(_told("sla_serious")) == {"孙所长", "张伟", "刘洋", "市值班长"}
    assert [m.to for m in mail.outbox] == [["sun@example.cn"], ["city@example.cn"]]


def test_telling_twice_tells_once(
    people: People, world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = reported(people)
    event = CaseEvent.objects.get(case=case)
    assert notify_case_event(event) == []
    # The town's clerk; the reporter is not told of their own report.
    assert list(Notification.objects.filter(event=event).values_list("user__name", flat=True)) == [
        "陈静"
    ]


def test_a_failing_listener_does_not_stop_the_others(
    people: People, world: World, django_capture_on_commit_callbacks: Capture, caplog: Any
) -> None:
    def broken(event: CaseEvent) -> None:
        raise ValueError("boom")

    events.subscribe(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            case = reported(people)
    finally:
        events.unsubscribe(broken)
    assert Case.objects.filter(pk=case.pk).exists()
    assert Notification.objects.filter(case=case).count() == 1
    assert "case event listener" in caplog.text


class _BrokenMail(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("connection lost")


def test_a_failed_email_is_recorded_as_failed(
    people: People,
    world: World,
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}._BrokenMail"
    people.resident.email = "wangfang@example.cn"
    people.resident.save()
    case = case_in(State.REPORTED, people, world)
    with django_capture_on_commit_callbacks(execute=True):
        services.case_reject(
            case=case, by=people.clerk, reason=RejectReason.INVALID, note="无法核实"
        )
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.detail) == (DeliveryStatus.FAILED, "connection lost")


# ---------------------------------------------------------------- the inbox API


def test_the_inbox(
    people: People,
    world: World,
    client_for: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        case = reported(people)
        services.case_file(case=case, by=people.clerk)
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
        services.case_claim(case=case, by=people.handler)
        services.case_submit(case=case, by=people.handler, photos=[photo(2)])
    resident = client_for(people.resident)
    items = resident.get("/api/v1/notifications").json()["items"]
    assert [(n["kind"], n["case"]) for n in items] == [
        ("submitted", case.number),
        ("claimed", case.number),
        ("dispatched", case.number),
        ("filed", case.number),
    ]
    assert resident.get("/api/v1/notifications/unread-count").json() == {"unread": 4}
    first = items[-1]["id"]
    body = resident.post(f"/api/v1/notifications/{first}/read").json()
    assert body["read_at"] is not None
    unread = resident.get("/api/v1/notifications?unread=true").json()["items"]
    assert len(unread) == 3
    # Someone else's message does not exist for you, and stays unread.
    handler_message = Notification.objects.filter(user=people.handler)[0]
    response = resident.post(f"/api/v1/notifications/{handler_message.pk}/read")
    assert (response.status_code, response.json()["code"]) == (404, "notification_not_found")
    assert Notification.objects.get(pk=handler_message.pk).read_at is None
    assert resident.post("/api/v1/notifications/read-all").json() == {"marked": 3}
    assert resident.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
