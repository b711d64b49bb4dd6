"""`synctui init [PATH]`: write the commented example config, never over an existing file."""

from __future__ import annotations

import argparse
from pathlib import Path

from synctui.commands import EXIT_OK, CommandError


def init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", nargs="?", default="synctui.toml")


def init(args: argparse.Namespace) -> int:
    """`synctui init [PATH]`: write the commented example config; never overwrite."""
    from synctui.config import EXAMPLE_CONFIG_PATH

    target = Path(args.path)
    try:
        with open(target, "x", encoding="utf-8") as out:
            out.write(EXAMPLE_CONFIG_PATH.read_text(encoding="utf-8"))
        target.chmod(0o600)
    except FileExistsError:
        raise CommandError(f"{target}: already exists; not overwriting it") from None
    except OSError as error:
        raise CommandError(f"{target}: cannot write: {error.strerror}") from None
    print(f"wrote {target}; edit it, then `synctui check --config {target}`")
    return EXIT_OK
