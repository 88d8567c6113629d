"""Canonical forms of finding targets, so findings and ground truth compare exactly.

URL targets drop the query and fragment (session ids, tickets, redirect parameters) and default
ports; item targets are ``<code>@<channel>``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str:
    """``HTTPS://Host:443/a/b?x=1#f`` → ``https://host/a/b``."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def item_target(code: str, channel: str) -> str:
    """The target of an item-level finding on a channel (``portal``, ``mobile``, ``dept:<id>``)."""
    return f"{code}@{channel}"
