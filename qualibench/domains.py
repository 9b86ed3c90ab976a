"""Registrable domains, from the Public Suffix List bundled with `publicsuffixlist` (no download).

One rule for the whole tool: which domain a brand owns. Matching reads it to place a reply sent
from "support.sfr.fr" with the brand "sfr.fr" (a two-label heuristic took "sfr.fr" for a
"co.uk"); the web-form channel reads it to keep a brand's walk on the brand's own sites.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any


@functools.cache
def _suffixes() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the list bundled with the package: no download


def is_ip(host: str) -> bool:
    """Say whether `host` is an IPv4 or IPv6 address (brackets allowed)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str:
    """Return the part of `host` a registrant owns ("support.sfr.fr" -> "sfr.fr",
    "www.fnac.co.uk" -> "fnac.co.uk"); an IP address or a single label is returned whole."""
    host = host.strip().lower().rstrip(".")
    if is_ip(host) or "." not in host:
        return host
    return _suffixes().privatesuffix(host) or host
