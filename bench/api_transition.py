"""The bare view against a case transition and the case page, request by request (bare, report,
file, detail, bare, …), so that the load of a shared machine weighs on all alike; for comparing
two trees side by side:

    for i in 1 2 3; do
        for tree in /tmp/tr-old /work/wt-transition; do
            PYTHONPATH=$tree .venv/bin/python bench/api_transition.py --url postgres://… 200
        done
    done

Run as a file, it measures the `civicloop` and `bench` packages found on PYTHONPATH (the tree
named first), on a database `python -m bench cases` generated. A resident reports a case; the
town's intake clerk files it (立案: `POST /api/v1/cases/{number}/file`, which with the demo
routing rules also dispatches it) and then reads it (`GET /api/v1/cases/{number}`). Prints the
mean wall time and this process's CPU time per request of each kind, the statements of one
file request and of one detail request, and the file request's throughput as a share of the
bare view's.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requests", type=int, nargs="?", default=200)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    from bench import cases_bench

    cases_bench.setup(args.url or cases_bench.DEFAULT_URL)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import civicloop

    resident, clerk = cases_bench.demo_client("resident"), cases_bench.demo_client("intake_clerk")
    bare = cases_bench.poster(resident, *cases_bench.BARE)
    report = cases_bench.poster(resident, *cases_bench.CREATE)
    numbers: list[str] = []

    def create() -> None:
        numbers.append(report().json()["number"])

    def file() -> None:
        url = f"/api/v1/cases/{numbers[-1]}/file"
        response = clerk.post(url, {}, content_type="application/json")
        assert response.status_code == 200, response.content
        assert response.json()["state"] == "dispatched"

    def detail() -> None:
        assert clerk.get(f"/api/v1/cases/{numbers[-1]}").status_code == 200

    for _ in range(10):
        for fn in (bare, create, file, detail):
            fn()
    create()
    statements = []
    for fn in (file, detail):
        with CaptureQueriesContext(connection) as ctx:
            fn()
        statements.append(
            sum(1 for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT"))
        )
    named = {"bare": bare, "create": create, "file": file, "detail": detail}
    totals = {name: [0.0, 0.0] for name in named}
    for _ in range(args.requests):
        for name, fn in named.items():
            _add(totals[name], fn)
    n = args.requests
    ms = {name: [v * 1000 / n for v in total] for name, total in totals.items()}
    tree = os.path.dirname(os.path.dirname(civicloop.__file__))
    parts = "  ".join(f"{name} {wall:6.2f} ms (cpu {cpu:5.2f})" for name, (wall, cpu) in ms.items())
    print(
        f"{tree:20s} {parts}  file {ms['bare'][0] / ms['file'][0]:5.1%} of bare  "
        f"statements: file {statements[0]}, detail {statements[1]}"
    )


def _add(total: list[float], fn: Callable[[], Any]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    total[0] += time.perf_counter() - wall
    total[1] += time.process_time() - cpu


if __name__ == "__main__":
    main()
