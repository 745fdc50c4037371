"""Keeping tools that write profiles (contract suite, seed) away from live data by accident."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit


class UnsafeTarget(Exception):
    """A run would write with a live key to a server that is not on this machine."""


def is_loopback(url: str) -> bool:
    """True for localhost and loopback addresses; any other host name counts as remote."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def needs_consent(url: str, key: str) -> bool:
    """Whether writing with `key` to `url` needs --allow-live: a pk_live_ key to a non-loopback URL."""
    return key.startswith("pk_live_") and not is_loopback(url)


def refuse_live_writes(url: str, keys: Iterable[str], allow_live: bool, what: str) -> None:
    """Raise UnsafeTarget if a pk_live_ key would write to a non-loopback URL without consent."""
    if not allow_live and any(needs_consent(url, key) for key in keys):
        raise UnsafeTarget(
            f"refusing to write with a pk_live_ key to {url}: {what}. Use pk_test_ keys, "
            "or pass --allow-live if LIVE data may really be written.")
