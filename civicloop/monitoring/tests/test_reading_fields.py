"""`reading_from_fields`: the listener's way to build a ReadingRow, same rows and same checks
as the keyword constructor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.monitoring.models import ReadingKind, ReadingSource
from civicloop.monitoring.writer import (
    READING_DEFAULTS,
    READING_FIELDS,
    ReadingRow,
    reading_from_fields,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
times = st.one_of(
    st.none(),
    st.just(T0),
    st.just(T0.replace(tzinfo=None)),  # naive: refused
    st.just(T0.astimezone() + timedelta(minutes=1)),
)
texts = st.text(max_size=40)


@st.composite
def field_values(draw: st.DrawFn) -> list[Any]:
    return [
        draw(st.integers(1, 10**6)),
        draw(st.sampled_from([*ReadingKind.values, 0, 9999])),
        draw(texts),
        draw(times),
        *(draw(numbers) for _ in range(9)),
        draw(texts),
        draw(texts),
        draw(times),
        draw(st.sampled_from([*ReadingSource.values, 99])),
        draw(times),
    ]


def _built(build: Any, values: list[Any]) -> ReadingRow | str:
    try:
        return build(values)
    except ValueError as error:
        return str(error)


@settings(max_examples=400, deadline=None)
@given(field_values())
def test_same_row_or_same_error_as_the_keyword_constructor(values: list[Any]) -> None:
    by_keywords = _built(lambda v: ReadingRow(**dict(zip(READING_FIELDS, v, strict=True))), values)

    assert _built(reading_from_fields, values) == by_keywords


def test_defaults_are_the_keyword_constructors():
    key = [1, ReadingKind.REALTIME, "a34004", T0]

    row = reading_from_fields([*key, *READING_DEFAULTS])

    assert row == ReadingRow(point_id=1, kind=ReadingKind.REALTIME, code="a34004", data_time=T0)
    assert row.source == ReadingSource.DEVICE


def test_the_row_is_frozen_and_needs_every_field():
    row = reading_from_fields([1, ReadingKind.REALTIME, "a34004", T0, *READING_DEFAULTS])

    with pytest.raises(AttributeError):
        row.rtd = 1.0
    with pytest.raises(ValueError):
        reading_from_fields([1, ReadingKind.REALTIME, "a34004", T0])
