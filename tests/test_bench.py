"""Every benchmark script runs to its end in its quick mode, so that none can rot.

The figures of a quick run mean nothing (they go to bench/results/quick/); the real
runs are `make bench`, quoted in BENCHMARKS.md.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
from run_all import scripts  # noqa: E402


@pytest.mark.timeout(180)
@pytest.mark.parametrize("script", scripts(), ids=lambda path: path.stem)
def test_the_benchmark_runs_to_its_end_in_quick_mode(script):
    began = time.time()
    done = subprocess.run([sys.executable, str(script), "--quick"], cwd=BENCH.parent,
                          capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, (f"{script.name} --quick failed:\n{done.stdout[-2000:]}\n"
                                  f"{done.stderr[-4000:]}")
    results = BENCH / "results" / "quick" / f"{script.stem}.json"
    assert results.stat().st_mtime >= began - 1, "it wrote no results"
