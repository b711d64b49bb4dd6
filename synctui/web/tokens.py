"""The served console's secrets: one token per role, kept 0600 in the state directory.

The file is read again whenever it changes, so `synctui serve --new-token` locks the
old tokens out of a server already running (a headless one's included).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

TOKENS_FILE = "serve-tokens.json"

OPERATOR, VIEWER = "operator", "viewer"
"""Operators steer; viewers see everything and steer nothing."""
ROLES = (OPERATOR, VIEWER)


class TokensError(Exception):
    """The tokens file cannot be read or written (the message says which and why)."""


@dataclass(frozen=True)
class Tokens:
    """The secret of each role."""

    operator: str
    viewer: str


class TokenFile:
    """The tokens of a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / TOKENS_FILE
        self._read_at: tuple[int, int] | None = None
        self._tokens: Tokens | None = None

    def ensure(self, *, renew: bool = False) -> Tokens | None:
        """Make the tokens if there are none (or, with `renew`, anew): the new ones, to be
        shown once; None when the kept ones stand."""
        if not renew and self._read() is not None:
            return None
        made = Tokens(**{role: secrets.token_urlsafe(24) for role in ROLES})
        temporary = self.path.with_name(f".{TOKENS_FILE}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                                 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(asdict(made), file)
                file.write("\n")
            os.replace(temporary, self.path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise TokensError(f"{self.path}: cannot keep the tokens: {error.strerror}") from None
        return made

    def role(self, token: str | None) -> str | None:
        """The role `token` gives now, or None (compared in constant time)."""
        try:
            tokens = self._read()
        except TokensError:
            return None  # a broken file lets nobody in
        if not token or tokens is None:
            return None
        for role in ROLES:
            if hmac.compare_digest(token.encode(), getattr(tokens, role).encode()):
                return role
        return None

    def _read(self) -> Tokens | None:
        """The tokens as the file holds them now (read again only when it changed)."""
        try:
            found = os.stat(self.path)
            changed = (found.st_ino, found.st_mtime_ns)
            if changed == self._read_at:
                return self._tokens
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise TokensError(f"{self.path}: cannot read the tokens: {error.strerror}") from None
        try:
            tokens = Tokens(**json.loads(text))
        except (ValueError, TypeError):
            tokens = None
        if tokens is None or not all(isinstance(getattr(tokens, role), str) for role in ROLES):
            raise TokensError(f"{self.path}: not a tokens file; --new-token writes a new one")
        self._read_at, self._tokens = changed, tokens
        return tokens
