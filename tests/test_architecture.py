"""The layers ARCHITECTURE.md draws hold in the code: import contracts (import-linter) that
fail on a wrong arrow, and a map that names every module there is and no other."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from installed import CHECKOUT

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the package and contracts under `root` (it imports from there)."""
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, capture_output=True,
                          text=True, timeout=120)


def test_the_import_contracts_hold():
    done = lint_imports(CHECKOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Contracts: (\d+) kept, 0 broken", done.stdout)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("module, line, contract", [
    ("scheduler/records.py", "import rich", "The core draws nothing"),
    ("config/model.py", "import synctui.scheduler.store", "The faces"),
    ("scheduler/lifecycle.py", "import synctui.scheduler.sync_scheduler", "A run is decided once"),
    ("tui/app.py", "import synctui.scheduler.shared", "The console holds one backend"),
    ("tui/widgets/jobs_table.py", "import apscheduler", "The console holds one backend"),
])
def test_a_wrong_arrow_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copytree(CHECKOUT / "synctui", tmp_path / "synctui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CHECKOUT / "pyproject.toml", tmp_path)
    with (tmp_path / "synctui" / module).open("a") as source:
        source.write(f"\n{line}\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1
    [broken] = [text for text in done.stdout.splitlines() if text.endswith(" BROKEN")]
    assert broken.startswith(contract), done.stdout


def test_architecture_md_names_every_module_and_only_real_ones():
    text = (CHECKOUT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:synctui/)?[a-z_/]+\.(?:py|tcss))`", text))
    modules = {str(path.relative_to(CHECKOUT / "synctui"))
               for path in (CHECKOUT / "synctui").rglob("*.py")
               if path.name != "__init__.py" or path.parent.name == "commands"}
    shown = {name.removeprefix("synctui/") for name in named}
    assert sorted(modules - shown) == [], "modules ARCHITECTURE.md does not place"
    assert sorted(name for name in named if not (CHECKOUT / "synctui" / name).exists()
                  and not (CHECKOUT / name).exists()) == []
