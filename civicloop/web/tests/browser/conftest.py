"""Browser tests: the machine's Debian Chromium driven by Playwright against a live server.

Never downloads a browser: without /usr/bin/chromium (installed by `make static`) the tests are
skipped with that reason. Screenshots of every step go to test-artifacts/browser/.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import ExifTags, Image, ImageDraw
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Page,
    ViewportSize,
    expect,
)

from civicloop.accounts.models import User

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
VENDOR = Path(settings.BASE_DIR) / "civicloop" / "web" / "static" / "vendor" / "VERSIONS.txt"
PASSWORD = "demo-pass-2026"  # the personas' password in civicloop/conftest.py
# Busy CI machines: give the page time before an expectation fails.
expect.set_options(timeout=10_000)
PHONE = ViewportSize(width=375, height=812)
DESK = ViewportSize(width=1366, height=900)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip("需要 /usr/bin/chromium（make static 会安装）")
    if not VENDOR.exists():
        pytest.skip("需要前端库（make static 会构建 civicloop/web/static/vendor/）")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": FLAGS,
    }


@pytest.fixture(scope="session", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    # Playwright's sync API keeps an event loop running in the main thread; the tests' own ORM
    # calls (fixtures, database setup, assertions) are synchronous and safe, so Django may
    # allow them. Session-wide, because the test database may be set up after the browser.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@dataclass
class Shots:
    """Numbered screenshots of one test's steps."""

    folder: Path
    count: int = 0

    def __call__(self, page: Page, name: str, *, full_page: bool = True) -> None:
        self.count += 1
        page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=full_page)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    name = re.sub(r"[^\w-]+", "-", request.node.name).strip("-")
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Shots(folder)


Login = Callable[..., Page]


@pytest.fixture
def login(browser: Browser, live_server: Any) -> Iterator[Login]:
    """A logged-in page for a persona, in its own browser context (phone or desk size)."""
    contexts: list[BrowserContext] = []

    def open_page(user: User, *, phone: bool = False, **context_args: Any) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            viewport=PHONE if phone else DESK,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            **context_args,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("手机号").fill(user.mobile)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("您好")
        return page

    yield open_page
    for context in contexts:
        context.close()


def street(size: tuple[int, int], *, rubbish: bool, seed: int = 0) -> Image.Image:
    """A drawn street corner (sky, wall, pavement), with or without a heap of rubbish."""
    width, height = size
    image = Image.new("RGB", size, (150, 190, 225))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, height * 0.25, width, height * 0.62], fill=(196, 186, 170))
    for x in range(0, width, width // 8):
        draw.rectangle(
            [x + width // 40, height * 0.32, x + width // 12, height * 0.45], fill=(95, 110, 130)
        )
    draw.rectangle([0, height * 0.62, width, height], fill=(128, 128, 124))
    if rubbish:
        colours = [(60, 60, 60), (200, 170, 90), (40, 120, 60), (220, 220, 220), (150, 60, 40)]
        for n in range(40):
            cx = width * (0.3 + ((n * 37 + seed * 11) % 40) / 100)
            cy = height * (0.62 + ((n * 53 + seed * 7) % 25) / 100)
            r = width * (0.02 + (n % 5) / 200)
            box = [cx - r, cy - r * 0.7, cx + r, cy + r * 0.7]
            draw.ellipse(box, fill=colours[n % len(colours)])
    return image


def camera_jpeg(
    *, rubbish: bool = True, seed: int = 0, taken: str = "2026:11:20 09:30:00"
) -> bytes:
    """A phone-sized (2400×1800) JPEG with the EXIF capture time, as a camera writes it."""
    image = street((2400, 1800), rubbish=rubbish, seed=seed)
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def small_jpeg(*, rubbish: bool = False, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    street((800, 600), rubbish=rubbish, seed=seed).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def upload(name: str, data: bytes) -> FilePayload:
    return FilePayload(name=name, mimeType="image/jpeg", buffer=data)
