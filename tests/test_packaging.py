"""What a user installs: the wheel and the sdist carry every file of the package, and the
end-to-end tests drive that wheel, not the checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from commandline import isolated_env, synctui
from installed import CHECKOUT, INSTALLED, SYNCTUI, imported_package
from synctui import __version__


def tracked_files() -> list[str]:
    """The checkout's files under version control (what a clone has), as relative paths."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=CHECKOUT, capture_output=True,
                            check=True, timeout=30)
    return [name for name in listed.stdout.decode().split("\0") if name]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, set[str]]:
    """The names in a wheel and an sdist built from a copy of the tracked files, in a
    directory of their own (a stale build/ in the checkout could hide a missing line)."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CHECKOUT / name, source / name)
    out = root / "dist"
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                    "--outdir", str(out), str(source)], capture_output=True, check=True,
                   timeout=120)
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    with tarfile.open(sdist) as archive:
        prefix = f"synctui-{__version__}/"
        in_sdist = {name.removeprefix(prefix) for name in archive.getnames()}
    return {"wheel": in_wheel, "sdist": in_sdist}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_every_tracked_file_of_the_package_ships(built, kind):
    package = [name for name in tracked_files()
               if name.startswith("synctui/") and "__pycache__" not in name]
    assert "synctui/tui/app.tcss" in package  # the list is the checkout's, not a guess
    missing = [name for name in package if name not in built[kind]]
    assert missing == [], f"left out of the {kind}: {missing}"


def test_the_installed_synctui_is_the_wheel_not_the_checkout(tmp_path):
    env = isolated_env(tmp_path)
    package = imported_package(env, CHECKOUT)  # the checkout as cwd: the worst case
    assert package.is_relative_to(INSTALLED.resolve()) and CHECKOUT not in package.parents
    assert "site-packages" in package.parts
    [record] = package.parent.glob(f"synctui-{__version__}.dist-info/direct_url.json")
    assert not json.loads(record.read_text()).get("dir_info", {}).get("editable", False)
    assert Path(SYNCTUI).parent == INSTALLED / "bin"
    done = synctui("--version", env=env, cwd=tmp_path)
    assert done.stdout == f"synctui {__version__}\n"
