"""The demo cases: a believable history of the loop, written through the real services."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from civicloop.accounts.demo import load_demo_organisations, load_demo_people
from civicloop.cases.categories import categories_load_seed
from civicloop.cases.demo import load_demo_cases, quota
from civicloop.cases.models import (
    Case,
    CaseEvent,
    EventType,
    Photo,
    PhotoKind,
    ReturnReason,
    Source,
    State,
)
from civicloop.lib import clock
from civicloop.regions.demo import load_yiwu_regions

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
COUNT, DAYS = 60, 30


@pytest.fixture
def yiwu(db):
    load_yiwu_regions()
    categories_load_seed()
    load_demo_organisations()
    load_demo_people()


@pytest.fixture
def demo(yiwu) -> int:
    with clock.frozen(NOW):
        return load_demo_cases(count=COUNT, days=DAYS)


def _timeline(case: Case) -> list[CaseEvent]:
    return list(case.events.order_by("seq"))


def summary() -> list[tuple[object, ...]]:
    cases = Case.objects.select_related("category", "assigned_org").order_by("number")
    return [
        (
            c.number,
            c.state,
            c.source,
            c.category.full_code,
            c.description,
            c.reported_at,
            c.lat,
            c.lon,
            c.assigned_org.code if c.assigned_org else "",
            list(c.events.order_by("seq").values_list("type", "at")),
        )
        for c in cases
    ]


def test_every_history_is_consistent_and_inside_the_window(demo):
    assert demo == COUNT == Case.objects.count()
    for case in Case.objects.all():
        events = _timeline(case)
        _assert_chained(case, events)
        _assert_inside_window(case, events)
        if case.state == State.CLOSED:
            _assert_checked_and_photographed(case)
    assert not CaseEvent.objects.filter(at__gt=NOW).exists()
    assert not Photo.objects.filter(uploaded_at__gt=NOW).exists()
    # Loading again (later) creates nothing.
    with clock.frozen(NOW + timedelta(hours=1)):
        assert load_demo_cases(count=COUNT, days=DAYS) == 0
    assert Case.objects.count() == COUNT


def _assert_chained(case: Case, events: list[CaseEvent]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert case.version == len(events)
    state = ""
    for event in events:
        if event.from_state:
            assert event.from_state == state, (case.number, event.seq)
        if event.to_state:
            state = event.to_state
    assert state == case.state, case.number


def _assert_inside_window(case: Case, events: list[CaseEvent]) -> None:
    assert NOW - timedelta(days=DAYS) <= case.reported_at <= NOW
    assert events[0].at == case.reported_at
    assert all(earlier.at <= later.at for earlier, later in pairwise(events))
    assert case.updated_at == events[-1].at <= NOW


def _assert_checked_and_photographed(case: Case) -> None:
    assert case.photos.filter(kind=PhotoKind.AFTER).exists(), case.number
    assert case.events.filter(type=EventType.CHECK_PASSED).exists(), case.number
    assert case.checked_at is not None and case.closed_at is not None
    assert case.closure_reason


def test_the_mix_looks_like_a_real_city(demo):
    _assert_states_spread()
    _assert_detours()
    _assert_sent_to_owners()


def _assert_states_spread() -> None:
    states = Counter(Case.objects.values_list("state", flat=True))
    assert len(states) >= 6
    assert 0.55 <= states[State.CLOSED] / COUNT <= 0.75
    expected = Counter(State.CLOSED if t == "on_spot" else t for t in quota(COUNT))
    # A duplicate with no case open at its time becomes a rejected report instead.
    either = (State.MERGED, State.REJECTED)
    assert sum(states[s] for s in either) == sum(expected[s] for s in either)
    assert {k: v for k, v in states.items() if k not in either} == {
        k: v for k, v in expected.items() if k not in either
    }


def _assert_detours() -> None:
    cases = Case.objects.all()
    sources = Counter(cases.values_list("source", flat=True))
    assert sources[Source.GRID_WORKER] and sources[Source.HOTLINE]
    for case in cases.filter(source=Source.HOTLINE):
        assert case.reporter_name.endswith(("先生", "女士")) and len(case.reporter_phone) == 11
        assert case.description.startswith("12345热线来电")
    assert cases.filter(resolved_on_spot=True).exists()
    assert cases.filter(return_count__gt=0).exists()
    assert cases.filter(rework_count__gt=0).exists()
    notes = CaseEvent.objects.filter(type__in=[EventType.NOTE, EventType.PUBLIC_UPDATE])
    assert notes.exists()
    for case in cases.select_related("town", "village"):
        assert case.town is not None and case.village is not None
        assert case.address.startswith(case.town.name + case.village.name)
    for child in cases.filter(state=State.MERGED).select_related("parent"):
        _assert_merged_into_an_open_case(child)


def _assert_merged_into_an_open_case(child: Case) -> None:
    parent = child.parent
    assert parent is not None and parent.reported_at < child.reported_at
    assert child.category_id == parent.category_id and child.grid_id == parent.grid_id
    merged_at = child.events.get(type=EventType.MERGED).at
    closed = parent.events.filter(type__in=[EventType.CLOSED, EventType.REJECTED]).first()
    assert closed is None or closed.at > merged_at


def _assert_sent_to_owners() -> None:
    handled = Case.objects.filter(state=State.CLOSED, resolved_on_spot=False)
    assert handled.exists()
    for case in handled.select_related("category", "assigned_org", "town"):
        assert case.town is not None and case.assigned_org is not None
        owner, slug = case.category.default_owner, case.town.code[:9]
        assert case.assigned_org.code in {f"{slug}-{owner}", f"yw-{owner}", f"{slug}-cgb"}
    for event in CaseEvent.objects.filter(type=EventType.RETURNED):
        assert event.note and event.reason in ReturnReason.values


def test_the_same_seed_gives_the_same_cases(yiwu):
    with transaction.atomic():
        with clock.frozen(NOW):
            assert load_demo_cases(count=25, days=10, seed=7) == 25
        first = summary()
        transaction.set_rollback(True)
    assert not Case.objects.exists()
    with clock.frozen(NOW):
        assert load_demo_cases(count=25, days=10, seed=7, progress=True) == 25
    assert summary() == first
    assert len({row[0] for row in first}) == 25
