"""Fixtures of the web tests: the shared world and personas, plus cases in any state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicloop.cases.models import Case, State
from civicloop.cases.tests.journeys import case_in
from civicloop.conftest import People, World


@pytest.fixture
def make_case(world: World, people: People, categories: None) -> Callable[[State], Case]:
    """A fresh case reported by 王芳 in 孝子祠社区第一网格, driven into `state`."""

    def make(state: State) -> Case:
        return case_in(state, people, world)

    return make
