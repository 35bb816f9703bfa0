"""One settings module, configured from the environment (healthchecks style).

Every setting the app reads is listed in `.env.example`. SQLite is the default so that a fresh
clone runs with no configuration; set DATABASE_URL for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CIVICLOOP_VAR_DIR") or BASE_DIR / "var")


def env(name: str, default: str) -> str:
    """NAME from the environment; empty counts as unset (as in .env.example)."""
    return os.environ.get(name) or default


def envbool(name: str, default: str) -> bool:
    return env(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(env(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def envsecret(name: str) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/systemd secrets)."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text(encoding="utf-8").strip()
    return None


def _local_secret_key() -> str:
    """A random key kept in var/ for development checkouts; it is never committed."""
    path = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    return key


DEBUG = envbool("DEBUG", "False")
# Production must say so explicitly; then every required setting has to be present.
PRODUCTION = envbool("CIVICLOOP_PRODUCTION", "False")

SECRET_KEY = envsecret("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in production")
    SECRET_KEY = _local_secret_key()

ALLOWED_HOSTS = envlist(
    "ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver"
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in production")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "template_partials",
    "civicloop.regions",
    "civicloop.accounts",
    "civicloop.cases",
    "civicloop.notifications",
    "civicloop.monitoring",
    "civicloop.ingest",
    "civicloop.environment",
    "civicloop.demo",
    "civicloop.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "civicloop.urls"
WSGI_APPLICATION = "civicloop.wsgi.application"
ASGI_APPLICATION = "civicloop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "civicloop" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'civicloop.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web app, the worker and the ingest writer share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg prepares a statement on its connection once it has run this many times; only
    # the hot paths' fixed statements can be prepared (`lib.rows.cursor`: server-side binding;
    # Django's other queries bind on the client, which never prepares). 0 turns it off (a
    # pooler in transaction mode without prepared-statement support, e.g. PgBouncer < 1.21).
    DATABASES["default"]["OPTIONS"] = {
        "prepare_threshold": envint("DB_PREPARE_THRESHOLD", "5") or None
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

# Language and time: Chinese first, English second; UTC in storage, Asia/Shanghai on screen.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "civicloop" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Asia/Shanghai"

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
# Original photos (with EXIF) are evidence: kept outside MEDIA_ROOT, served only through checks.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT") or VAR_DIR / "private")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": "/private-media/"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads: per photo and per request, in bytes.
PHOTO_MAX_BYTES = envint("PHOTO_MAX_BYTES", str(10 * 1024 * 1024))
PHOTO_MAX_COUNT = envint("PHOTO_MAX_COUNT", "9")
UPLOAD_MAX_BYTES = envint("UPLOAD_MAX_BYTES", str(60 * 1024 * 1024))

MONITORING_RAW_RETENTION_DAYS = envint("MONITORING_RAW_RETENTION_DAYS", "90")

CASE_NUMBER_PREFIX = env("CASE_NUMBER_PREFIX", "YW")
# How long a reporter (or the centre) may reopen a closed case, and the centre reinstate a
# rejected report, in days.
CASE_REOPEN_DAYS = envint("CASE_REOPEN_DAYS", "7")
CASE_REINSTATE_DAYS = envint("CASE_REINSTATE_DAYS", "7")
# How long a reporter may rate a closed case, in days (the reopen window when unset).
CASE_RATE_DAYS = envint("CASE_RATE_DAYS", str(CASE_REOPEN_DAYS))
# Who delivers case events to the notifications (the event table is the outbox):
# "worker": the request only writes the event, `civicloop notify --loop` delivers it (production:
# run at least one worker); "commit": delivered in-process right after the request's transaction
# commits (the development default; a worker then only catches what a crash left behind).
CASE_EVENT_DELIVERY = env("CASE_EVENT_DELIVERY", "worker" if PRODUCTION else "commit")
if CASE_EVENT_DELIVERY not in ("worker", "commit"):
    raise ImproperlyConfigured("CASE_EVENT_DELIVERY must be 'worker' or 'commit'")
# KPI reports on PostgreSQL: how many indicator families are computed at once (each in its own
# database connection); 1 computes them one after the other.
KPI_CONCURRENCY = envint("KPI_CONCURRENCY", "4")
# KPI rollups (`civicloop kpi_rollup --loop`): a case in a final state is rolled once untouched
# for this many days. A later rating or reopen un-rolls the case in its own transaction, so the
# period trades that work against the size of the reports' remainder (docs/kpis.md).
KPI_ROLLUP_QUIET_DAYS = envint("KPI_ROLLUP_QUIET_DAYS", "1")
# SMS: a dotted path to a backend class; the default records what would be sent (no gateway).
SMS_BACKEND = env("SMS_BACKEND", "civicloop.notifications.channels.LoggingSmsBackend")

# Map tiles for the web pages (天地图, 高德 or OSM URL template with {z}/{x}/{y}, {s} optional).
# Empty: no tiles, the maps draw region boundaries on a plain grid (closed networks).
MAP_TILE_URL = env("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", "")

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "civicloop@localhost")

SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", str(PRODUCTION))
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", str(PRODUCTION))
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", str(PRODUCTION))
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "False")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", "False") else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS: list[str] = []
if SECURE_HSTS_PRELOAD is False:
    SILENCED_SYSTEM_CHECKS.append("security.W021")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The covering indexes' INCLUDE columns are for PostgreSQL; SQLite builds plain indexes.
    SILENCED_SYSTEM_CHECKS.append("models.W040")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

# An optional, git-ignored override file for one machine.
with contextlib.suppress(ImportError):
    from civicloop.local_settings import *  # noqa: F403
