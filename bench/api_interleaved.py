"""The bare view against case creation, request by request (bare, create, bare, create, …), so
that the load of a shared machine weighs on both alike; for comparing two trees side by side:

    for i in 1 2 3; do
        for tree in /tmp/create-old /work/wt-create; do
            PYTHONPATH=$tree .venv/bin/python bench/api_interleaved.py --url postgres://… 300
        done
    done

Run as a file, it measures the `civicloop` and `bench` packages found on PYTHONPATH (the tree
named first), on a database `python -m bench cases` generated. Prints the mean wall time and
this process's CPU time per request, and the ratio of throughputs. Interleaved with them, the
floor of any write: one row inserted and committed (the WAL flush a report's commit waits for),
in a table of its own (`bench_commit_probe`).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("requests", type=int, nargs="?", default=300)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    from bench import cases_bench

    cases_bench.setup(args.url or cases_bench.DEFAULT_URL)
    from django.db import connection, transaction

    import civicloop

    resident = cases_bench.demo_client("resident")
    bare = cases_bench.poster(resident, *cases_bench.BARE)
    create = cases_bench.poster(resident, *cases_bench.CREATE)

    def commit() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_commit_probe (at) VALUES (now())")

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (at timestamptz)")
        cursor.execute("TRUNCATE bench_commit_probe")
    for _ in range(20):
        bare()
        create()
    totals = {bare: [0.0, 0.0], create: [0.0, 0.0], commit: [0.0, 0.0]}
    for _ in range(args.requests):
        for fn in (bare, create, commit):
            _add(totals[fn], fn)
    n = args.requests
    (bare_wall, bare_cpu), (create_wall, create_cpu), (commit_wall, _cpu) = (
        [v * 1000 / n for v in totals[fn]] for fn in (bare, create, commit)
    )
    tree = os.path.dirname(os.path.dirname(civicloop.__file__))
    print(
        f"{tree:20s} bare {bare_wall:5.2f} ms (cpu {bare_cpu:5.2f})  "
        f"create {create_wall:6.2f} ms (cpu {create_cpu:5.2f})  "
        f"create {bare_wall / create_wall:6.1%} of bare  "
        f"(one-row commit {commit_wall:4.2f} ms)"
    )


def _add(total: list[float], fn: Callable[[], Any]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    total[0] += time.perf_counter() - wall
    total[1] += time.process_time() - cpu


if __name__ == "__main__":
    main()
