"""The KPI dashboard: who may see it, the numbers on hand-built cases, drill-down and export."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from civicloop.cases.models import Case, State
from civicloop.lib import clock


@pytest.fixture
def due_cases(make_case):
    """Two cases whose disposal deadline has passed: one closed, one still at the unit."""
    closed, working = make_case(State.CLOSED), make_case(State.ACCEPTED)
    due = clock.now() - timedelta(hours=1)
    Case.objects.filter(pk__in=[closed.pk, working.pk]).update(due_at=due)
    return closed, working, clock.local_date(due)


def test_the_dashboard_is_for_centre_and_unit_roles(client_for, people, db):
    assert client_for(people.resident).get("/dashboard/").status_code == 404
    assert client_for(people.grid_worker).get("/dashboard/").status_code == 404
    assert client_for(people.clerk).get("/dashboard/").status_code == 200
    assert client_for(people.handler).get("/dashboard/").status_code == 200


def test_it_charts_the_closure_rate_by_village(client_for, people, due_cases):
    _closed, _working, day = due_cases
    response = client_for(people.clerk).get(f"/dashboard/?date={day}")
    [area, _org, _category, trend] = response.context["charts"]
    assert [row.label for row in area.rows] == ["孝子祠社区"]
    codes = [i.code for i in area.indicators]
    closure = area.rows[0].cells[codes.index("closure_rate")]
    assert (closure.value.numerator, closure.value.denominator, closure.percent) == (1, 2, 50.0)
    assert area.data()["series"][codes.index("closure_rate")]["values"] == [50.0]
    assert trend.kind == "line" and len(trend.rows) == 6
    page = response.content.decode()
    assert "vendor/echarts/echarts.min.js" in page and 'data-chart="chart-data-area"' in page


def test_every_number_drills_down_to_its_cases(client_for, people, due_cases):
    closed, working, day = due_cases
    client = client_for(people.clerk)
    response = client.get(f"/dashboard/?date={day}")
    closure = response.context["charts"][0].rows[0].cells[0]
    numerator = client.get(closure.numerator_url).content.decode()
    assert closed.number in numerator and working.number not in numerator
    denominator = client.get(closure.denominator_url).content.decode()
    assert closed.number in denominator and working.number in denominator


def test_drilling_shows_only_what_the_user_may_open(client_for, people, due_cases):
    closed, working, day = due_cases
    url = client_for(people.clerk).get(f"/dashboard/?date={day}").context["charts"][0].rows[0]
    link = url.cells[0].denominator_url
    # The other town's clerk evaluates their own town: the link shows none of ours.
    body = client_for(people.other_clerk).get(link).content.decode()
    assert closed.number not in body and working.number not in body
    assert client_for(people.clerk).get("/dashboard/cases/?indicator=nope").status_code == 404


def test_the_reports_export_as_excel_and_csv(client_for, people, due_cases):
    _closed, _working, day = due_cases
    client = client_for(people.clerk)
    xlsx = client.get(f"/dashboard/export/?date={day}&chart=area&format=xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert xlsx.content[:2] == b"PK"
    csv = client.get(f"/dashboard/export/?date={day}&chart=org&format=csv")
    text = csv.content.decode("utf-8-sig")
    assert "结案率" in text and "稠城街道环卫所" in text
    assert re.search(r'filename="kpis-region-org-\d{4}-\d{2}\.csv"', csv["Content-Disposition"])


def test_bad_parameters_fall_back_to_defaults(client_for, people, db):
    response = client_for(people.clerk).get("/dashboard/?role=nope&period=century&date=x")
    assert response.status_code == 200
    assert response.context["query"].role == "region"
