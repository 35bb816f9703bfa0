"""The floor of case creation: what the database alone takes for a report, against the bare view.

    .venv/bin/python bench/api_floor.py --url postgres://…/civicloop_bench [requests]

On a database `python -m bench cases` generated, it records the statements one report sends
through the API that the bare view does not send (the session and the user are read by both),
then measures, request by request so that the load of a shared machine weighs on all alike:

- the bare view (test client, session authentication, as in the bench);
- a report through the API (the bench's creation);
- the floor: the same statements, with the same parameters, sent by a plain psycopg connection
  that prepares them (no Django, no Python work of the engine; each report a new case with its
  own number, as the API's are) — the database's part of a report, commit and WAL flush
  included.

- the request shape: the same NinjaAPI endpoint signature (authentication, the report's form
  schema, photos, query) returning the same 201, with none of the engine's work
  (`cases_bench._shape_api`) — the framework's part of a report.

A creation can be no faster than the bare view plus its floor, so `bare / (bare + floor)`
bounds the ratio the bench measures however little Python the engine runs, and
`bare / (shape + floor)` bounds it for a report served through the API's framework. Prints the
mean wall time of each, the bounds, and what remains: the engine's own Python work.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

Statement = tuple[str, Any]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requests", type=int, nargs="?", default=300)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    from bench import cases_bench

    url = args.url or cases_bench.DEFAULT_URL
    cases_bench.setup(url)
    import psycopg

    resident = cases_bench.demo_client("resident")
    bare = cases_bench.poster(resident, *cases_bench.BARE)
    create = cases_bench.poster(resident, *cases_bench.CREATE)
    shape = cases_bench.poster(resident, "/bench/api/report-shape", 201)

    for _ in range(20):
        bare()
        create()
    own = [s for s in _statements(create) if s[0] not in {sql for sql, _p in _statements(bare)}]
    with psycopg.connect(url, autocommit=True, prepare_threshold=0) as raw:
        # Django's two bindings: `$1` statements bound (and prepared) by the server, as
        # `lib.rows.cursor` sends them; `%s` ones bound by the client, as its other queries.
        server, client = psycopg.RawCursor(raw), psycopg.ClientCursor(raw)

        parts = [0.0] * len(own)

        def floor() -> None:
            for i, (sql, params) in enumerate(own):
                started = time.perf_counter()
                cursor = server if "$1" in sql else client
                cursor.execute(sql, params)
                if cursor.description is not None:
                    cursor.fetchall()
                parts[i] += time.perf_counter() - started

        def commit() -> None:  # the floor of any write: one row, committed (its WAL flush)
            server.execute("INSERT INTO bench_commit_probe (at) VALUES (now())")

        def round_trip() -> None:
            server.execute("SELECT 1")
            server.fetchall()

        server.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (at timestamptz)")
        server.execute("TRUNCATE bench_commit_probe")
        for _ in range(20):
            floor()
        parts[:] = [0.0] * len(own)
        fns = (bare, create, shape, floor, round_trip, commit)
        totals = dict.fromkeys(fns, 0.0)
        for _ in range(args.requests):
            for fn in fns:
                totals[fn] += _wall(fn)
    ms = {fn: total * 1000 / args.requests for fn, total in totals.items()}
    print(f"statements a report adds to the bare view's: {len(own)}")
    for (sql, _params), total in zip(own, parts, strict=True):
        print(f"  {total * 1000 / args.requests:5.2f} ms  {' '.join(sql.split())[:100]}…")
    b, c, f, h = ms[bare], ms[create], ms[floor], ms[shape]
    print(
        f"bare {b:5.2f} ms   create {c:5.2f} ms ({b / c:5.1%} of bare)   shape {h:5.2f} ms   "
        f"floor {f:4.2f} ms   SELECT 1 {ms[round_trip]:4.2f} ms   "
        f"one-row commit {ms[commit]:4.2f} ms"
    )
    print(
        f"bounds: bare/(bare+floor) {b / (b + f):5.1%}   bare/(shape+floor) {b / (h + f):5.1%}   "
        f"engine's Python beyond them {c - h - f:5.2f} ms"
    )


def _statements(request: Callable[[], None]) -> list[Statement]:
    """The statements one request sends, with their parameters."""
    from django.db import connection

    seen: list[Statement] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not many:
            seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        request()
    return seen


def _wall(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
