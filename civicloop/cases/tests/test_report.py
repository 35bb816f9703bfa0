"""Reporting a problem: what is accepted, and every way bad input is refused unchanged."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicloop.cases.models import Case, CaseEvent, CaseNumberSequence, Photo
from civicloop.conftest import IN_GRID, IN_OTHER_TOWN, OUTSIDE, People, World, jpeg, photo_file
from civicloop.lib import clock

pytestmark = pytest.mark.usefixtures("categories")


def _report(client: Any, **overrides: Any) -> Any:
    data = {
        "category": "0102",
        "kind": "event",
        "description": "沙堆堵住了桥面",
        "lat": IN_GRID[0],
        "lon": IN_GRID[1],
        **overrides,
    }
    return client.post("/api/v1/cases", data)


def _nothing_written(tmp_path: Path) -> None:
    assert (Case.objects.count(), CaseEvent.objects.count(), Photo.objects.count()) == (0, 0, 0)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == []


def test_case_numbers_follow_the_local_day(people: People, world: World, client_for: Any) -> None:
    import datetime as dt

    # 2026-11-25 17:30 UTC is already 2026-11-26 in Yiwu.
    at = dt.datetime(2026, 11, 25, 17, 30, tzinfo=dt.UTC)
    client = client_for(people.resident)
    with clock.frozen(at):
        first = _report(client).json()["number"]
        second = _report(client).json()["number"]
    assert (first, second) == ("YW202611260001", "YW202611260002")


def test_case_numbers_past_9999_keep_every_digit(
    people: People, world: World, client_for: Any
) -> None:
    """The number drawn in the insert's statement (PostgreSQL) is the one the response names."""
    at = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
    CaseNumberSequence.objects.create(prefix="YW", day=dt.date(2026, 11, 26), last=9998)
    client = client_for(people.resident)
    with clock.frozen(at):
        numbers = [_report(client).json()["number"] for _ in range(2)]
    assert numbers == ["YW202611269999", "YW2026112610000"]
    assert list(Case.objects.order_by("id").values_list("number", flat=True)) == numbers


def test_photos_are_kept_as_evidence_and_published_stripped(
    people: People, world: World, client_for: Any
) -> None:
    response = _report(
        client_for(people.resident),
        photos=[photo_file("a.jpg"), photo_file("b.jpg", jpeg((1, 1, 1)))],
    )
    assert response.status_code == 201
    photos = list(Photo.objects.order_by("id"))
    assert [(p.kind, p.content_type, p.width, p.height) for p in photos] == [
        ("before", "image/jpeg", 64, 48),
        ("before", "image/jpeg", 64, 48),
    ]
    assert all(storages["private"].exists(p.original) for p in photos)
    assert all(p.public.storage.exists(p.public.name) for p in photos)


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"description": ""}, 422, "validation_error"),
        ({"description": "   "}, 422, "description_required"),
        ({"category": "9999"}, 422, "category_invalid"),
        ({"category": "01"}, 422, "category_invalid"),
        # the category is checked first, as before it was read with the placement
        ({"category": "9999", "description": "   "}, 422, "category_invalid"),
        ({"category": "9999", "lat": OUTSIDE[0], "lon": OUTSIDE[1]}, 422, "category_invalid"),
        ({"description": "   ", "lat": OUTSIDE[0], "lon": OUTSIDE[1]}, 422, "description_required"),
        ({"lat": OUTSIDE[0], "lon": OUTSIDE[1]}, 422, "outside_city"),
        ({"lat": "north"}, 422, "validation_error"),
        ({"urgency": "very"}, 422, "validation_error"),
        ({"source": "hotline_12345"}, 403, "source_not_allowed"),
    ],
)
def test_bad_reports_are_refused(
    overrides: dict[str, Any],
    status: int,
    code: str,
    people: People,
    world: World,
    client_for: Any,
    tmp_path: Path,
) -> None:
    response = _report(client_for(people.resident), **overrides)
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["message"]
    _nothing_written(tmp_path)


def test_a_pdf_named_jpg_is_unsupported(
    people: People, world: World, client_for: Any, tmp_path: Path
) -> None:
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not a photo", "image/jpeg")
    response = _report(client_for(people.resident), photos=[photo_file(), fake])
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert response.json()["details"] == {"photo": "photo.jpg"}
    _nothing_written(tmp_path)


def test_too_large_photo_is_413(
    people: People, world: World, client_for: Any, settings: Any, tmp_path: Path
) -> None:
    settings.PHOTO_MAX_BYTES = 500
    response = _report(client_for(people.resident), photos=[photo_file()])
    assert response.status_code == 413
    assert response.json()["code"] == "photo_too_large"
    _nothing_written(tmp_path)


def test_too_many_photos(
    people: People, world: World, client_for: Any, settings: Any, tmp_path: Path
) -> None:
    settings.PHOTO_MAX_COUNT = 2
    photos = [photo_file(f"{i}.jpg", jpeg((i, i, i))) for i in range(3)]
    response = _report(client_for(people.resident), photos=photos)
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_photos"
    _nothing_written(tmp_path)


def test_hotline_cases_are_registered_by_the_centre(
    people: People, world: World, client_for: Any
) -> None:
    response = _report(
        client_for(people.clerk),
        source="hotline_12345",
        reporter_name="匿名来电",
        reporter_phone="0579-85551234",
    )
    assert response.status_code == 201
    body = client_for(people.clerk).get(response.json()["url"]).json()
    assert (body["source"], body["reporter_name"]) == ("hotline_12345", "匿名来电")


def test_source_follows_the_reporters_role(people: People, world: World, client_for: Any) -> None:
    sources = []
    for person in (people.resident, people.volunteer, people.grid_worker):
        client = client_for(person)
        sources.append(client.get(_report(client).json()["url"]).json()["source"])
    assert sources == ["resident", "volunteer", "grid_worker"]


def test_case_in_another_town_is_placed_there(
    people: People, world: World, client_for: Any
) -> None:
    client = client_for(people.resident)
    created = _report(client, lat=IN_OTHER_TOWN[0], lon=IN_OTHER_TOWN[1]).json()
    body = client.get(created["url"]).json()
    assert body["town"]["name"] == "北苑街道"
    assert body["grid"]["name"] == "银苑社区第一网格"


@pytest.mark.usefixtures("workcal")
def test_filing_sets_the_deadline_from_the_category(
    people: People, world: World, client_for: Any
) -> None:
    """Deadlines count working time (8:30–12:00, 14:00–17:30 on working days), not hours on the
    wall clock: Thursday 26 November 2026, 9:00 in Yiwu (01:00 UTC)."""
    import datetime as dt

    at = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)
    clerk = client_for(people.clerk)
    due = {}
    with clock.frozen(at):
        for urgency in ("urgent", "normal"):
            number = _report(client_for(people.resident)).json()["number"]
            body = clerk.post(
                f"/api/v1/cases/{number}/file",
                {"urgency": urgency},
                content_type="application/json",
            ).json()
            due[urgency] = body["due_at"]
    # 紧急 2 工作时 → 11:00; 一般 4 工作时 → 9:00–12:00 and 14:00–15:00.
    assert due == {"urgent": "2026-11-26T03:00:00Z", "normal": "2026-11-26T07:00:00Z"}
    # Friday 16:00 + 4 working hours ends on Monday at 11:00 (03:00 UTC).
    with clock.frozen(dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)):
        number = _report(client_for(people.resident)).json()["number"]
        body = clerk.post(
            f"/api/v1/cases/{number}/file", {}, content_type="application/json"
        ).json()
    assert body["due_at"] == "2026-11-30T03:00:00Z"


def test_token_clients_can_report(people: People, world: World, client: Any) -> None:
    response = client.post(
        "/api/v1/auth/token",
        {"mobile": "13800000001", "password": "demo-pass-2026", "name": "手机端"},
        content_type="application/json",
    )
    assert response.status_code == 201
    token = response.json()["token"]
    bad = client.post(
        "/api/v1/auth/token",
        {"mobile": "13800000001", "password": "wrong"},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_credentials")
    response = client.post(
        "/api/v1/cases",
        {
            "category": "0102",
            "kind": "event",
            "description": "令牌上报",
            "lat": IN_GRID[0],
            "lon": IN_GRID[1],
        },
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201
    assert Case.objects.get().reporter == people.resident
    wrong = client.get("/api/v1/cases", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401


def test_the_201_is_short_and_points_to_the_case(
    people: People, world: World, client_for: Any
) -> None:
    client = client_for(people.resident)
    with clock.frozen(dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)):
        response = _report(client)
    assert response.status_code == 201
    assert response.json() == {
        "number": "YW202611260001",
        "state": "reported",
        "state_display": "已上报·待受理",
        "version": 1,
        "url": "/api/v1/cases/YW202611260001",
    }
    detail = client.get(response.json()["url"]).json()
    assert (detail["number"], detail["state"], detail["version"]) == (
        "YW202611260001",
        "reported",
        1,
    )
    assert [e["type"] for e in detail["timeline"]] == ["reported"]


def _statements(queries: list[dict[str, Any]]) -> list[str]:
    """The SQL sent, without transaction control (tests run in a transaction, so the service's
    own BEGIN/COMMIT show up as savepoints)."""
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
    return [q["sql"] for q in queries if not q["sql"].upper().startswith(control)]


@pytest.mark.usefixtures("workcal")
def test_reporting_costs_a_fixed_number_of_queries(
    people: People, world: World, client_for: Any, settings: Any
) -> None:
    """A regression guard on the write path of POST /cases (no photo): session and user, one
    statement for the grid index's and the time-limit configuration's freshness with the
    grid's regions, the category and the reporter's memberships, then the day's number (one
    upsert), the case, its intake clock and its first event: one statement on PostgreSQL
    (atomic by itself, so no transaction block either), four elsewhere. Notifications are the
    outbox worker's (CASE_EVENT_DELIVERY=worker)."""
    settings.CASE_EVENT_DELIVERY = "worker"
    client = client_for(people.resident)
    assert _report(client).status_code == 201  # warms the grid index and time-limit caches
    with CaptureQueriesContext(connection) as ctx:
        response = _report(client)
    assert response.status_code == 201
    sql = _statements(ctx.captured_queries)
    tables = [[t for t in TABLES if re.search(rf'[" ]{t}[" )]', s)] for s in sql]
    inserts = (
        [["cases_casenumbersequence", "cases_caseclock", "cases_caseevent", "cases_case"]]
        if connection.vendor == "postgresql"
        else [
            ["cases_casenumbersequence"],
            ["cases_case"],
            ["cases_caseclock"],
            ["cases_caseevent"],
        ]
    )
    assert tables == [
        ["django_session"],
        ["accounts_user"],
        # the grid index's fingerprint, the grid's regions, the time-limit configuration's,
        # the category, the memberships
        [
            "accounts_membership",
            "accounts_organisation",
            "cases_category",
            "cases_slarevision",
            "regions_region",
        ],
        *inserts,
    ]


TABLES = (
    "django_session",
    "accounts_user",
    "accounts_membership",
    "accounts_organisation",
    "cases_category",
    "cases_casenumbersequence",
    "cases_slarevision",
    "cases_caseclock",
    "cases_caseevent",
    "cases_case",
    "regions_region",
)


@pytest.mark.parametrize("table", ["cases_case", "cases_caseevent"])
def test_a_report_writes_no_index_another_index_already_serves(table: str) -> None:
    """Every report inserts into every index of the case and event tables: none may repeat the
    leading columns of another (the foreign keys' and the state's own indexes, PostgreSQL's
    LIKE twins of the state and the number were dropped; a unique or primary key stays)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    indexes = [c for c in found.values() if c["index"] or c["unique"] or c["primary_key"]]
    keys = [tuple(c["columns"]) for c in indexes]
    # No twin (number's LIKE index, …); the outbox's partial index of the events' ids is not
    # one of their primary key.
    others = [tuple(c["columns"]) for c in indexes if not c["primary_key"]]
    assert len(others) == len(set(others)), sorted(others)
    for c in indexes:
        if c["unique"] or c["primary_key"] or len(c["columns"]) != 1:
            continue
        column = c["columns"][0]
        wider = [k for k in keys if len(k) > 1 and k[0] == column]
        assert not wider, (column, wider)
    if table == "cases_case":
        assert ("number",) in keys and ("state",) not in keys
