"""Fixtures of the case tests: the working calendar as the migration seeds it (tests that flush
the database, e.g. transactional ones, would otherwise leave later tests without it)."""

from __future__ import annotations

from datetime import datetime

import pytest

from civicloop.cases.workdays import calendar_seed, working_periods_seed
from civicloop.lib.clock import SHANGHAI


@pytest.fixture
def workcal(db: None) -> None:
    calendar_seed()
    working_periods_seed()


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An instant in Yiwu."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)
