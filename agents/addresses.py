"""The client's address: the one rule for rate limits, login records and the audit log.

Behind the reverse proxy every request comes from the proxy's address, so
that address alone would put every citizen in one rate-limit bucket. The
proxy says whom it served in X-Forwarded-For, but a client can send that
header too, so it is read only when the request comes from a proxy listed in
TRUSTED_PROXIES, and then from the right: each proxy appends the address it
saw, so the entries a client wrote itself are on the left and are never believed.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

from django.conf import settings
from django.http import HttpRequest


def _parsed(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen by a dual-stack socket arrives as ::ffff:a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: IPv4Address | IPv6Address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, unless it is a trusted proxy: then the first untrusted hop from the right.

    When the header is missing or holds something that is not an address where
    the client should be, the proxy's own address is returned: such a request
    did not come through our proxy as the proxy sends it.
    """
    remote = request.META.get("REMOTE_ADDR") or ""
    remote_address = _parsed(remote)
    if remote_address is None or not _trusted(remote_address):
        return remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _parsed(hop)
        if address is None:
            return remote
        if not _trusted(address):
            return str(address)
    # Every hop is one of our proxies (a health check from the proxy itself, say).
    return remote
