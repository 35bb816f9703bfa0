"""The case event table as the outbox: with CASE_EVENT_DELIVERY=worker (production) a request
only writes the event and `civicloop notify` delivers it; nothing is lost, nothing is told twice,
events go oldest first, and a failing listener cannot block the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection, transaction

from civicloop.cases import events, services
from civicloop.cases.models import CaseEvent, State
from civicloop.cases.tests.journeys import case_in, reported
from civicloop.conftest import People, World
from civicloop.notifications.models import Delivery, Notification

pytestmark = pytest.mark.usefixtures("categories")


@pytest.fixture
def worker_mode(settings: Any) -> None:
    settings.CASE_EVENT_DELIVERY = "worker"


@pytest.fixture
def seen() -> Iterator[list[int]]:
    """The ids of the events a test listener is called with, in order."""
    calls: list[int] = []

    def listener(event: CaseEvent) -> None:
        calls.append(event.pk)

    events.subscribe(listener)
    try:
        yield calls
    finally:
        events.unsubscribe(listener)


@pytest.mark.usefixtures("worker_mode")
def test_the_request_writes_the_event_and_the_worker_tells(
    people: People, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    case = case_in(State.FILED, people, world)
    events.drain()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    assert callbacks == []  # nothing runs in the request
    dispatched = CaseEvent.objects.get(case=case, type="dispatched")
    assert (dispatched.delivered, events.pending_count()) == (False, 1)
    assert not Notification.objects.filter(event=dispatched).exists()

    assert events.drain() == 1
    told = Notification.objects.filter(event=dispatched).values_list("user__name", flat=True)
    assert sorted(told) == ["王芳", "赵磊"]
    assert Delivery.objects.filter(event=dispatched, channel="sms").count() == 1
    assert (events.pending_count(), events.drain()) == (0, 0)
    assert Notification.objects.filter(event=dispatched).count() == 2


@pytest.mark.usefixtures("worker_mode")
def test_events_are_delivered_oldest_first_in_batches(
    people: People, world: World, seen: list[int]
) -> None:
    cases = [reported(people) for _ in range(5)]
    ids = list(CaseEvent.objects.filter(case__in=cases).order_by("pk").values_list("pk", flat=True))
    assert events.deliver_pending(limit=2) == 2
    assert events.drain(batch=2) == 3
    assert seen == ids
    assert not CaseEvent.objects.filter(delivered=False).exists()


@pytest.mark.usefixtures("worker_mode")
def test_notify_on_sqlite_waits_between_batches_so_other_writers_get_the_lock(
    people: People, world: World, seen: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's waiting writers poll every 100 ms: a drain that began its next batch at once
    starved them (the demo's rollup workers hit their busy timeout). PostgreSQL needs no pause."""
    cases = [reported(people) for _ in range(5)]
    pauses: list[float] = []
    monkeypatch.setattr(events.time, "sleep", pauses.append)
    out = StringIO()
    call_command("notify", "--batch", "2", stdout=out)
    assert out.getvalue() == "notify: 5 events delivered\n"
    # batches of 2, 2 and 1: a pause after each full batch, none after the last
    assert pauses == ([0.25, 0.25] if connection.vendor == "sqlite" else [])
    ids = list(CaseEvent.objects.filter(case__in=cases).order_by("pk").values_list("pk", flat=True))
    assert seen == ids


@pytest.mark.usefixtures("worker_mode")
def test_a_worker_told_to_stop_ends_its_drain_after_the_batch_in_hand(
    people: People, world: World, seen: list[int]
) -> None:
    """SIGTERM sets the worker's `stopping`: it finishes the transaction in hand and leaves the
    rest of a backlog to the next worker, instead of delivering all of it before it exits."""
    cases = [reported(people) for _ in range(5)]
    ids = list(CaseEvent.objects.filter(case__in=cases).order_by("pk").values_list("pk", flat=True))
    asked: list[int] = []

    def stopping() -> bool:
        asked.append(len(seen))
        return True

    assert events.drain(batch=2, stopping=stopping) == 2
    assert (asked, seen) == ([2], ids[:2])
    assert events.pending_count() == 3
    assert events.drain(batch=2) == 3
    assert seen == ids


@pytest.mark.usefixtures("worker_mode")
def test_a_rolled_back_change_leaves_nothing_to_deliver(people: People, world: World) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        reported(people)
        raise RuntimeError("rolled back")
    assert (events.pending_count(), events.drain()) == (0, 0)


@pytest.mark.usefixtures("worker_mode")
def test_a_failing_listener_is_logged_and_does_not_stop_the_others(
    people: People, world: World, seen: list[int], caplog: Any
) -> None:
    def broken(event: CaseEvent) -> None:
        CaseEvent.objects.filter(pk=event.pk).update(note="half-written")
        raise RuntimeError("gateway down")

    after: list[int] = []

    def recorder(event: CaseEvent) -> None:
        after.append(event.pk)

    events.subscribe(broken)
    events.subscribe(recorder)
    try:
        case = reported(people)
        assert events.drain() == 1
    finally:
        events.unsubscribe(broken)
        events.unsubscribe(recorder)
    event = CaseEvent.objects.get(case=case)
    assert seen == after == [event.pk]  # the listeners before and after the broken one ran
    assert (event.note, event.delivered) == ("", True)  # its own savepoint was rolled back
    assert Notification.objects.filter(event=event, user=people.clerk).exists()
    assert "gateway down" in caplog.text


def test_in_commit_mode_the_request_delivers_after_commit(
    people: People, world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CASE_EVENT_DELIVERY = "commit"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        case = reported(people)
    assert len(callbacks) == 1
    event = CaseEvent.objects.get(case=case)
    assert event.delivered is True
    assert Notification.objects.filter(event=event, user=people.clerk).exists()
    assert events.drain() == 0  # a worker finds nothing left


def test_a_crash_before_the_after_commit_delivery_is_caught_up_by_the_worker(
    people: People, world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CASE_EVENT_DELIVERY = "commit"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        case = reported(people)  # committed; the process "dies" before its callbacks
    assert len(callbacks) == 1
    assert not Notification.objects.exists()
    out = StringIO()
    call_command("notify", stdout=out)
    assert out.getvalue() == "notify: 1 events delivered\n"
    assert Notification.objects.filter(event__case=case, user=people.clerk).exists()


def test_rows_written_outside_the_orm_count_as_delivered(people: People, world: World) -> None:
    """Bulk loads (the benchmark's COPY, history imports) are nobody's news."""
    case = reported(people)
    table = CaseEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (case_id, seq, type, at, actor_role, from_state, to_state, "
            "reason, note, is_public, data) SELECT case_id, 99, type, at, actor_role, "
            f"from_state, to_state, reason, note, is_public, data FROM {table} WHERE case_id = %s",
            [case.pk],
        )
    assert CaseEvent.objects.get(case=case, seq=99).delivered is True


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_deliver_each_event_once(
    people: People, world: World, settings: Any, seen: list[int]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    settings.CASE_EVENT_DELIVERY = "worker"
    cases = [reported(people) for _ in range(12)]
    barrier = threading.Barrier(2)
    totals: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            totals.append(events.drain(batch=3))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = list(CaseEvent.objects.filter(case__in=cases).order_by("pk").values_list("pk", flat=True))
    assert sum(totals) == 12
    assert seen == ids  # once each, oldest first: the second worker waits for the first's rows
    assert Notification.objects.filter(user=people.clerk).count() == 12
