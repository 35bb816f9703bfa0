"""The scanned QR page in a real (headless Chromium) browser on a phone-sized screen."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from civicloop.environment import qr
from civicloop.environment.tests.conftest import NOW, Env, feed_normal_hours
from civicloop.lib import clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def data(env: Env) -> Env:
    """Everything the database needs, before the browser starts: once Playwright's event loop
    runs in this thread, ORM calls would get a connection of their own that outlives the test."""
    with clock.frozen(NOW):
        feed_normal_hours(env)
    return env


@pytest.fixture
def phone() -> Iterator[Any]:
    """A phone-sized page. The test itself makes no ORM calls while Playwright's event loop
    runs in this thread; the live server answers from its own threads."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        except sync_api.Error as exc:  # no browser installed here
            pytest.skip(f"Chromium is not available: {exc}")
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        yield context.new_page()
        context.close()
        browser.close()


def test_scanning_the_label_opens_the_outlet_page_with_its_chart(
    data: Env, live_server: Any, phone: Any
) -> None:
    env = data
    errors: list[str] = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))

    phone.goto(live_server.url + qr.outlet_path(env.water))

    assert phone.locator("h1").inner_text() == "DW001 · 废水总排口"
    assert phone.locator("text=化学需氧量").first.is_visible()
    assert phone.locator("text=GB 8978—1996 表4 三级").first.is_visible()
    phone.wait_for_selector(".env-chart-one canvas")
    assert phone.locator(".env-chart-one canvas").count() == 2  # COD and pH: one chart each
    assert env.water_point.mn not in phone.content()
    assert errors == []


def test_a_tampered_code_shows_not_found(data: Env, live_server: Any, phone: Any) -> None:
    env = data
    token = qr.outlet_token(env.water)
    response = phone.goto(live_server.url + f"/env/q/{token[:-2]}xx/")
    assert response is not None and response.status == 404
