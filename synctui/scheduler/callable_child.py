"""The child interpreter that runs a `"pkg.mod:func"` job, so a hang can be killed and a crash stays here.

A function taking no argument is called as is (the seed's `run_incremental_sync()`);
one taking an argument gets the run's context, the `SYNCTUI_*` values, as a mapping.
A coroutine function is run to completion. Returning is success; an exception
prints its traceback (whose last line becomes the run's error) and exits 1.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sys


def _load(spec: str):
    module_name, _, attribute = spec.partition(":")
    target = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def _takes_argument(function) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        for p in parameters
    )


def main(spec: str) -> None:
    """Import and call the job's function."""
    function = _load(spec)
    context = {key: value for key, value in os.environ.items() if key.startswith("SYNCTUI_")}
    outcome = function(context) if _takes_argument(function) else function()
    if inspect.isawaitable(outcome):
        asyncio.run(outcome)


if __name__ == "__main__":
    main(sys.argv[1])
