"""Production settings pass Django's deployment checks and refuse to start half-configured."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their live server; production never does.
    unset = ("SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "civicloop", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = _run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        CIVICLOOP_PRODUCTION="1",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="civicloop.yiwu.gov.cn",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start() -> None:
    result = _run("check", CIVICLOOP_PRODUCTION="1", ALLOWED_HOSTS="civicloop.yiwu.gov.cn")
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required in production" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(secrets.token_urlsafe(50))
    result = _run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        CIVICLOOP_PRODUCTION="1",
        SECRET_KEY_FILE=str(key_file),
        ALLOWED_HOSTS="civicloop.yiwu.gov.cn",
    )
    assert result.returncode == 0, result.stderr


def test_language_and_time_defaults() -> None:
    from django.conf import settings

    assert (settings.LANGUAGE_CODE, settings.TIME_ZONE, settings.USE_TZ) == (
        "zh-hans",
        "Asia/Shanghai",
        True,
    )
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
