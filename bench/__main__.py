"""`python -m bench [NAME ...] [OPTIONS]`: run the named benchmarks, or every one available.

The registry maps a name to a module; a benchmark whose module is not in this checkout is left
out, so engineers can add theirs independently. A module's `main(argv)` receives the options
after the names; a module with only `run()` has its result printed. Several benchmarks run one
after the other, each in a process of its own: each configures Django for its own database.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType

REGISTRY: dict[str, str] = {
    "cases": "bench.cases_bench",
    "hj212": "bench.bench_hj212",
    "ingest": "bench.bench_ingest",
    "environment": "bench.bench_environment",
}


def _load(module_name: str) -> ModuleType | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            return None
        raise


def available() -> dict[str, ModuleType]:
    found = {name: _load(module) for name, module in REGISTRY.items()}
    return {name: module for name, module in found.items() if module is not None}


def _runner(module: ModuleType) -> Callable[[list[str]], None]:
    main = getattr(module, "main", None)
    if main is not None:
        if inspect.signature(main).parameters:
            return lambda argv: main(argv)
        return lambda argv: main()

    def print_run(argv: list[str]) -> None:
        for key, value in module.run().items():
            print(f"  {key:<32} {value:>14,.2f}")

    return print_run


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    benchmarks = available()
    names = []
    while args and not args[0].startswith("-"):
        names.append(args.pop(0))
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(benchmarks)}")
        return 2
    chosen = names or list(benchmarks)
    if len(chosen) == 1:
        print(f"== bench {chosen[0]}", flush=True)
        _runner(benchmarks[chosen[0]])(args)
        return 0
    failed = []
    for name in chosen:
        print(f"== bench {name}", flush=True)
        command = [sys.executable, "-m", "bench", name, *(args if names else [])]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
