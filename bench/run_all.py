"""Run every benchmark script in bench/ with its defaults, one after the other.

A benchmark is any `bench/*.py` except this file and files whose name starts with `_`
(shared helpers). Each prints its own table and writes `bench/results/<name>.json`
(git-ignored). Missed targets are reported, not failures: the exit status is 0 when
every script ran to the end, 1 when one crashed. `make bench` calls this.

The campaigns (`CAMPAIGNS`: the hour-long soak, fuzzing by the ten thousand) run only
when named (`--only soak`, `make soak`, `make fuzz`); their quick modes are in the suite
like the rest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CAMPAIGNS = ("soak", "fuzz")


def scripts() -> list[Path]:
    return sorted(
        path for path in BENCH_DIR.glob("*.py")
        if path.name != Path(__file__).name and not path.name.startswith("_")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (file name without .py); repeatable")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true",
                        help="each in its quick mode: checks they work, measures nothing")
    args = parser.parse_args()

    found = scripts()
    if args.list:
        print("\n".join(path.stem for path in found))
        return 0
    if args.only:
        unknown = set(args.only) - {path.stem for path in found}
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        found = [path for path in found if path.stem in args.only]
    elif not args.quick:
        found = [path for path in found if path.stem not in CAMPAIGNS]

    failed = []
    for path in found:
        print(f"=== {path.stem} ===", flush=True)
        began = time.monotonic()
        quick = ["--quick"] if args.quick else []
        status = subprocess.run([sys.executable, str(path), *quick], cwd=BENCH_DIR.parent).returncode
        print(f"=== {path.stem}: {'ok' if status == 0 else f'FAILED (exit {status})'}"
              f" in {time.monotonic() - began:.1f}s ===\n", flush=True)
        if status != 0:
            failed.append(path.stem)
    if failed:
        print(f"benchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
