"""`python -m bench [NAME ...] [OPTIONS]`: run the named benchmarks, or every one available.

The registry maps a name to a module; a benchmark whose module is not in this checkout is left
out, so engineers can add theirs independently. A module's `main(argv)` receives the options
after the names; a module with only `run()` has its result printed.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from types import ModuleType

REGISTRY: dict[str, str] = {
    "cases": "bench.cases_bench",
    "hj212": "bench.bench_hj212",
    "ingest": "bench.bench_ingest",
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
    for name in names or list(benchmarks):
        print(f"== bench {name}")
        _runner(benchmarks[name])(args if names else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
