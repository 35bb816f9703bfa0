"""Settings of the gunicorn server `python -m bench cases --http` starts: the site's settings
(the environment the bench passes: DATABASE_URL, CASE_EVENT_DELIVERY=worker, DEBUG off) with
the bench's urlconf, which adds the bare view `/bench/bare`, as `cases_bench.setup` does in
process. Served by the production entry point, `gunicorn civicloop.wsgi`."""

from civicloop.settings import *  # noqa: F403

ROOT_URLCONF = "bench.cases_bench"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
