"""Readers of the alerting keys: `warn_after`, `notify`, `ping_url` and `ping`.

URLs carry secrets (a webhook's token, a check's UUID): no error message shows more of
one than its scheme and host.
"""

from __future__ import annotations

import re
import string
from typing import Any
from urllib.parse import urlsplit

from synctui.config.model import Notifier, Ping, WarnAfter, url_shown
from synctui.config.report import Invalid, expected, toml_type
from synctui.config.values import duration

FORMATS = ("json", "slack", "ntfy")
PING_KEYS = ("start", "success", "failure")
PING_FIELDS = ("exit_code", "run_id", "duration", "result", "message")
"""What a `ping` template may hold in braces."""
_TIMES_P95 = re.compile(r"\s*(\d+(?:\.\d+)?)\s*x\s*p95\s*", re.IGNORECASE)


def warn_after(value: Any) -> WarnAfter:
    """A duration ("10m") or a multiple of the job's recent p95 duration ("2x p95")."""
    if isinstance(value, str):
        times = _TIMES_P95.fullmatch(value)
        if times:
            factor = float(times.group(1))
            if factor <= 0:
                raise Invalid(f'expected a multiple greater than 0 like "2x p95", got {value!r}')
            return WarnAfter(value, p95_times=factor)
    try:
        return WarnAfter(value, seconds=duration(value))
    except Invalid:
        raise expected('a duration like "10m", or "2x p95" (twice the recent p95 duration)',
                       value) from None


def url(value: Any) -> str:
    """An http or https URL; errors show its scheme and host at most."""
    if not isinstance(value, str):
        raise Invalid(f"expected an http:// or https:// URL, got a value of type {toml_type(value)}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise Invalid(f"expected a URL, got one that does not parse ({url_shown(value)})") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid(f"expected an http:// or https:// URL, got scheme {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise Invalid("expected a URL with a host, got none")
    if any(char.isspace() for char in value):
        raise Invalid(f"expected a URL without spaces ({url_shown(value)})")
    return value


def notifiers(value: Any) -> tuple[Notifier, ...]:
    """`notify`: a list of URLs, or of `{ url = "...", format = "slack" }` tables."""
    if not isinstance(value, list):
        raise Invalid('expected a list like ["https://example.com/hook"], got a value of type'
                      f" {toml_type(value)}")
    read = []
    for index, item in enumerate(value):
        try:
            read.append(_notifier(item))
        except Invalid as problem:
            raise Invalid(f"item {index}: {problem}") from None
    return tuple(read)


def _notifier(item: Any) -> Notifier:
    if isinstance(item, str):
        return Notifier(url(item))
    if not isinstance(item, dict):
        raise Invalid(f"expected a URL or a table with url and format, got a value of type"
                      f" {toml_type(item)}")
    unknown = [key for key in item if key not in ("url", "format")]
    if unknown:
        raise Invalid(f"unknown key {unknown[0]!r} (known: url, format)")
    if "url" not in item:
        raise Invalid("expected a url")
    form = item.get("format", "json")
    if form not in FORMATS:
        raise Invalid(f"expected a format among {', '.join(FORMATS)}, got {form!r}")
    return Notifier(url(item["url"]), form)


def ping_url(value: Any) -> Ping:
    """`ping_url`: a healthchecks.io check's URL (its self-hosted server's too)."""
    base = url(value).rstrip("/")
    return Ping(start=f"{base}/start", success=base, failure=f"{base}/fail", healthchecks=True)


def ping_templates(value: Any) -> Ping:
    """`ping = { start = "...", success = "...", failure = "..." }`, each a URL template."""
    if not isinstance(value, dict):
        raise Invalid(f"expected a table with start, success and failure URLs, got a value of"
                      f" type {toml_type(value)}")
    unknown = [key for key in value if key not in PING_KEYS]
    if unknown:
        raise Invalid(f"unknown key {unknown[0]!r} (known: {', '.join(PING_KEYS)})")
    if not value:
        raise Invalid("expected at least one of start, success and failure")
    urls = {}
    for key, template in value.items():
        try:
            urls[key] = _template(url(template))
        except Invalid as problem:
            raise Invalid(f"{key}: {problem}") from None
    return Ping(**urls)


def _template(text: str) -> str:
    """A URL whose `{field}`s are all known ones."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise Invalid(f"expected a template with balanced braces ({url_shown(text)})") from None
    for name in fields:
        if name not in PING_FIELDS:
            raise Invalid(f"unknown field {{{name}}} (known: "
                          f"{', '.join('{' + known + '}' for known in PING_FIELDS)})")
    return text
