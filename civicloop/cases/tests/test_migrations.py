"""The hand-written migration of the clocks' KPI index (built CONCURRENTLY on PostgreSQL under
another name, then renamed) leaves the index the model declares, and nothing else."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_clocks_kpi_index_has_the_mark_the_stage_and_the_deadline() -> None:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "cases_caseclock")
    assert found["case_clock_kpi_settled"]["columns"] == ["kpi_settled_at", "stage", "due_at"]
    assert found["case_clock_kpi_settled"]["index"] is True
    assert "case_clock_kpi_settled_new" not in found
