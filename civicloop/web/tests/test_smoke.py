from __future__ import annotations

import pytest

from civicloop.cases.models import State


@pytest.mark.parametrize("url", ["/", "/report/", "/mine/"])
def test_resident_pages_render(client_for, people, categories, url):
    response = client_for(people.resident).get(url)
    assert response.status_code == 200


def test_case_page_renders(client_for, people, make_case):
    case = make_case(State.SUBMITTED)
    response = client_for(people.clerk).get(f"/cases/{case.number}/")
    assert response.status_code == 200, response.content.decode()[:3000]


@pytest.mark.parametrize("url", ["/centre/", "/centre/supervision/", "/centre/map/"])
def test_centre_pages_render(client_for, people, make_case, url):
    make_case(State.EXTENSION_REQUESTED)
    response = client_for(people.shift_lead).get(url + "?queue=approvals")
    assert response.status_code == 200


def test_unit_and_grid_render(client_for, people, make_case):
    make_case(State.DISPATCHED)
    assert client_for(people.handler).get("/unit/").status_code == 200
    assert client_for(people.grid_worker).get("/grid/").status_code == 200
    assert client_for(people.grid_worker).get("/grid/on-spot/").status_code == 200
