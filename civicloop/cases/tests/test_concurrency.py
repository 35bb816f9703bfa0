"""Two people act on one case at the same moment: exactly one wins."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import close_old_connections, connection

from civicloop.cases import services
from civicloop.cases.models import Case, CaseEvent, EventType, ReturnReason, State
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import People, World
from civicloop.lib.errors import DomainError

pytestmark = [pytest.mark.usefixtures("categories"), pytest.mark.django_db(transaction=True)]


def _race(*actions: Any) -> list[str]:
    barrier = threading.Barrier(len(actions))
    results: list[str] = []

    def run(action: Any) -> None:
        try:
            barrier.wait()
            action()
            results.append("ok")
        except DomainError as e:
            results.append(e.code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


@pytest.mark.postgres
def test_claim_and_return_at_once_one_wins(people: People, world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    case = case_in(State.DISPATCHED, people, world)
    claim = lambda: services.case_claim(case=Case.objects.get(pk=case.pk), by=people.handler)  # noqa: E731
    ret = lambda: services.case_return(  # noqa: E731
        case=Case.objects.get(pk=case.pk),
        by=people.handler,
        reason=ReturnReason.OTHER,
        note="并发退回",
    )
    outcome = _race(claim, ret)
    assert outcome[1] == "ok"
    assert outcome[0] in ("case_conflict", "invalid_transition")
    case.refresh_from_db()
    assert case.state in (State.ACCEPTED, State.RETURNED)
    assert (
        CaseEvent.objects.filter(
            case=case, type__in=[EventType.CLAIMED, EventType.RETURNED]
        ).count()
        == 1
    )
    assert list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True)) == [1, 2, 3, 4]


@pytest.mark.postgres
def test_many_dispatchers_one_dispatch(people: People, world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    case = case_in(State.FILED, people, world)
    loaded = [Case.objects.get(pk=case.pk) for _ in range(6)]
    outcome = _race(
        *[
            (lambda c=c: services.case_dispatch(case=c, to=world.sanitation, by=people.dispatcher))
            for c in loaded
        ]
    )
    assert outcome == ["case_conflict"] * 5 + ["ok"]
    case.refresh_from_db()
    assert (case.state, case.dispatch_count) == (State.DISPATCHED, 1)
    assert CaseEvent.objects.filter(case=case, type=EventType.DISPATCHED).count() == 1


def test_concurrent_reports_get_distinct_numbers(people: People, world: World) -> None:
    from civicloop.cases.tests.journeys import reported

    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    outcome = _race(*[(lambda: reported(people)) for _ in range(8)])
    assert outcome == ["ok"] * 8
    numbers = list(Case.objects.values_list("number", flat=True))
    assert len(set(numbers)) == 8
