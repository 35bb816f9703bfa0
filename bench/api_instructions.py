"""Requests in a loop, for counting their instructions under valgrind: a measure of this
process's work that the load of a shared machine does not move (CPU time under load moved by
up to 40 % between runs of the same tree). Run as a file, like `api_interleaved.py`:

    for n in 0 100; do
        PYTHONHASHSEED=0 PYTHONPATH=$tree valgrind --tool=cachegrind --cache-sim=no \\
            --cachegrind-out-file=/dev/null .venv/bin/python $tree/bench/api_instructions.py \\
            --url postgres://… create $n 2>&1 | grep 'I *refs'
    done

The difference of the two counts, divided by n, is one request's instructions (the setup and
20 warm-up requests are in both). `create` posts a report (no photo), `bare` the bare view.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["create", "bare"])
    parser.add_argument("requests", type=int)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    from bench import cases_bench

    cases_bench.setup(args.url or cases_bench.DEFAULT_URL)
    target = cases_bench.CREATE if args.what == "create" else cases_bench.BARE
    post = cases_bench.poster(cases_bench.demo_client("resident"), *target)
    for _ in range(20 + args.requests):
        post()


if __name__ == "__main__":
    main()
