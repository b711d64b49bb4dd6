"""What most subcommands start with: the config they are given, the store, and the live host.

A scheduler's host is reached through its control socket; a command that finds none
answers from the store (or says that nothing runs).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from synctui.commands import EXIT_FAILED, CommandError
from synctui.config import Config, ConfigError, default_state_dir, discover_config, load_config
from synctui.scheduler.store import Store, StoreError

LOOKED_IN = ("--config, $SYNCTUI_CONFIG, ./synctui.toml, $XDG_CONFIG_HOME/synctui/config.toml,"
             " /etc/synctui/config.toml")


def load(
    args: argparse.Namespace, *, demo_when_missing: bool = False, log_warnings: bool = False
) -> Config:
    """The config the arguments point at (or the demo); a bad one is a CommandError.

    Its warnings go to stderr, or with `log_warnings` through the log (so that
    `--log-format json` stays one JSON object a line).
    """
    try:
        config = read_config(args, demo_when_missing=demo_when_missing)
    except ConfigError as error:
        raise CommandError("\n".join(error.problems)) from None
    for warning in config.warnings:
        if log_warnings:
            logging.getLogger("synctui.config").warning(
                "%s", warning, extra={"event": "config_warning"})
        else:
            print(f"synctui: warning: {warning}", file=sys.stderr)
    return config


def read_config(args: argparse.Namespace, *, demo_when_missing: bool = False) -> Config:
    """The config the arguments point at, read afresh; raises ConfigError."""
    if getattr(args, "demo", False):
        return _demo()
    path = discover_config(getattr(args, "config", None), os.environ, Path.cwd())
    if path is None:
        if demo_when_missing:
            return _demo()
        raise CommandError(f"no config found (looked at {LOOKED_IN}); write one with `synctui init`")
    return load_config(path, secrets=getattr(args, "secrets", None), environ=os.environ)


def _demo() -> Config:
    from synctui.config import local_zone
    from synctui.demo import demo_config

    state_dir = default_state_dir("demo")
    if state_dir is None:
        raise CommandError("no place for the demo's state: set $XDG_STATE_HOME or $HOME")
    return demo_config(state_dir, local_zone())


def known_job(config: Config, name: str | None) -> str | None:
    """`name`, if the config has such a job (or None for all); else a CommandError."""
    if name is not None and name not in config.jobs:
        raise CommandError(
            f"no job named {name!r} in {config.path or 'the demo'} (jobs: {', '.join(config.jobs)})"
        )
    return name


def open_store(state_dir: Path) -> Store:
    """The history store in `state_dir`, or a CommandError saying why it cannot be opened."""
    try:
        return Store(state_dir)
    except (StoreError, OSError) as error:
        raise unusable(state_dir, error) from None


def unusable(state_dir: Path, error: StoreError | OSError, also: str = "") -> CommandError:
    """Why the store cannot be opened (`also`: more of the story), as the operator reads it."""
    message = str(error) if isinstance(error, StoreError) else (
        f"{state_dir}: cannot use the state directory: {error.strerror}"
    )
    return CommandError(
        f"{message}{also} (is it owned by the service's user? try `sudo -u USER synctui ...`)"
    )


def reach_host(config: Config):
    """The live host's `RemoteControl`, or None when no scheduler runs for this state directory.

    It is looked for where the host said it serves (in the store) and where it serves by
    default (for a `[control] group` member, who may not read the store). A socket that
    takes no connection is a dead host's.
    """
    from synctui.scheduler.control_client import HostUnreachable, RemoteControl
    from synctui.scheduler.protocol import socket_path

    places = [socket_path(config.scheduler.state_dir)]
    try:
        store = Store(config.scheduler.state_dir)
    except (StoreError, OSError):
        pass
    else:
        host = store.host()
        store.close()
        if host is not None and host.socket:
            places.insert(0, Path(host.socket))
    for place in dict.fromkeys(places):
        try:
            remote = RemoteControl(place)
        except HostUnreachable as error:
            if error.denied:
                raise CommandError(f"{error} (is this the service's user, or a member of its"
                                   " [control] group?)", EXIT_FAILED) from None
            if error.silent:  # alive: nothing may run here behind its back
                raise CommandError(f"{error}; try again, or see its logs", EXIT_FAILED) from None
            continue
        theirs = remote.greeting.get("config")
        if theirs != config.source:
            print(f"synctui: warning: the scheduler of this state directory ({host_words(remote)})"
                  f" runs another config, {theirs or 'the demo'}: what it says is of its jobs",
                  file=sys.stderr)
        return remote
    return None


def host_words(remote) -> str:
    """`pid 4242, headless`: which host `remote` speaks to."""
    return f"pid {remote.greeting['pid']}, {remote.greeting['mode']}"


def through(remote) -> str:
    """How a command says that the live host did what it asked."""
    return f"through the running scheduler ({host_words(remote)})"
