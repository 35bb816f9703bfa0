"""The inbox: one's own messages, opened to their case, the unread count kept fresh."""

from __future__ import annotations

import pytest

from civicloop.cases import services
from civicloop.cases.models import State
from civicloop.notifications.models import Notification


@pytest.fixture
def dispatched(people, world, make_case, django_capture_on_commit_callbacks):
    """A case dispatched to 环卫所; its handler 赵磊 is told."""
    with django_capture_on_commit_callbacks(execute=True):
        case = make_case(State.FILED)
        services.case_dispatch(case=case, to=world.sanitation, by=people.dispatcher)
    return case


def test_the_inbox_lists_ones_messages(client_for, people, dispatched):
    mine = Notification.objects.filter(user=people.handler)
    assert mine.exists()
    page = client_for(people.handler).get("/inbox/").content.decode()
    assert dispatched.number in page and "未读" in page
    assert dispatched.number not in client_for(people.parks_handler).get("/inbox/").content.decode()


def test_the_unread_count_is_in_the_navigation_and_polled(client_for, people, dispatched):
    client = client_for(people.handler)
    unread = Notification.objects.filter(user=people.handler, read_at__isnull=True).count()
    home = client.get("/").content.decode()
    assert 'hx-get="/inbox/count/" hx-trigger="every 30s' in home
    assert f'<span class="count count-unread">{unread}<' in home
    assert f">{unread}<" in client.get("/inbox/count/").content.decode()


def test_opening_a_message_marks_it_read_and_shows_its_case(client_for, people, dispatched):
    notification = Notification.objects.filter(user=people.handler).first()
    response = client_for(people.handler).post(f"/inbox/{notification.pk}/read/")
    assert response["Location"] == f"/cases/{dispatched.number}/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_someone_elses_message_is_not_found(client_for, people, dispatched):
    notification = Notification.objects.filter(user=people.handler).first()
    response = client_for(people.parks_handler).post(f"/inbox/{notification.pk}/read/")
    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_all_can_be_marked_read(client_for, people, dispatched):
    client = client_for(people.handler)
    client.post("/inbox/read-all/")
    assert not Notification.objects.filter(user=people.handler, read_at__isnull=True).exists()
    assert client.get("/inbox/count/").content.decode().strip() == ""
