"""Where settings come from besides the tables: files, secrets, the environment, the machine."""

from __future__ import annotations

import os
import pwd
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from synctui.config import values
from synctui.config.report import Invalid, Report, Table
from synctui.config.schema import SEED_KEYS, Settings

# A config is a few kilobytes; the cap keeps `--config /dev/zero` from eating memory.
_MAX_FILE_BYTES = 16 * 1024 * 1024
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def read_toml(path: Path, report: Report) -> tuple[dict[str, Any] | None, int | None]:
    """The parsed file and its mode bits, or (None, None) with the reason reported."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        report.add("", f"cannot read the file: {error.strerror or error}")
        return None, None
    if len(data) > _MAX_FILE_BYTES:
        report.add("", "expected a config file of at most 16 MiB, got a larger one")
        return None, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # Say where, not which bytes: the file may be a secrets file.
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        report.add("", f"expected UTF-8 text, got an invalid byte at line {line}, column {column}")
        return None, None
    try:
        # Editors on Windows may start a UTF-8 file with a byte order mark; TOML does not.
        return tomllib.loads(text.removeprefix("\ufeff")), mode
    except tomllib.TOMLDecodeError as error:
        report.add("", f"invalid TOML: {error}")
    except RecursionError:
        report.add("", "invalid TOML: arrays or tables nested too deeply")
    return None, None


def read_secrets(path: Path, report: Report, settings: Settings) -> None:
    """Apply the seed's four keys from a Streamlit secrets file; the rest is not looked at."""
    document, _ = read_toml(path, report)
    if document is not None:
        _take_seed_keys(Table(report, (), document), settings)


def read_environment(environ: Mapping[str, str], report: Report, settings: Settings) -> None:
    """Apply the seed's four keys from environment variables."""
    # An empty variable counts as unset, as `KEY=` in a compose file or unit means.
    present = {key: environ[key].strip() for key in SEED_KEYS if environ.get(key, "").strip()}
    _take_seed_keys(Table(report, (), present), settings)


def _take_seed_keys(table: Table, settings: Settings) -> None:
    for key, (section, field, _) in SEED_KEYS.items():
        table.take(key, seed_reader(key, lenient=True), settings.section(section), field)


def seed_reader(key: str, *, lenient: bool) -> Callable[[Any], Any]:
    """How one of the seed's keys is read; `lenient` also takes the environment's strings."""
    if key == "SCHEDULER_TIMEZONE":
        return values.timezone
    if key == "ENABLE_AUTOREFRESH_FALLBACK":
        return values.switch if lenient else values.flag
    minutes = values.minutes(allow_zero=False)
    if not lenient:
        return minutes

    def read(value: Any) -> float:
        # The seed read these with int(): "15" in a secrets file or the environment.
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            return minutes(float(value))
        return minutes(value)

    return read


def exists(path: Path) -> bool:
    """Whether something is at `path`; a permission error counts as yes, so it gets reported."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # permission denied, say: reading it will report why
    return True


def home(environ: Mapping[str, str]) -> Path | None:
    """The home directory `~` stands for, or None when there is none."""
    given = environ.get("HOME", "")
    if os.path.isabs(given):
        return Path(given)
    try:
        # Services started without $HOME (systemd without User=) still have one.
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return None


def default_state_dir(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where a config called `name` keeps its state when `state_dir` is not set."""
    environ = os.environ if environ is None else environ
    # systemd's StateDirectory= may list several, separated by ":"; synctui uses the first.
    state_directory = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if os.path.isabs(state_directory):
        return Path(state_directory)
    state_home = environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state_home):
        return Path(state_home) / "synctui" / name
    user_home = home(environ)
    if user_home is not None:
        return user_home / ".local" / "state" / "synctui" / name
    return None


def local_zone() -> str:
    """The machine's zone name, or "UTC" when it cannot be told."""
    # Imported here: only needed when no zone is configured, and it reads files.
    import tzlocal

    try:
        return values.timezone(tzlocal.get_localzone_name())
    except (LookupError, ValueError, OSError, Invalid):
        # A machine whose zone cannot be told runs in UTC rather than not at all.
        return "UTC"
