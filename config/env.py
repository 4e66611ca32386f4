"""Typed readers for environment variables.

Each helper returns the default when the variable is unset or empty and
raises ImproperlyConfigured when it is set to something that does not parse,
so a typo in a deployment fails at start-up instead of silently using a default.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network, ip_network

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}"
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(
            f"{name} is a comma-separated list with an empty item: {value!r}"
        )
    return items


def env_networks(name: str) -> list[IPv4Network | IPv6Network]:
    """A comma-separated list of IP addresses or networks (CIDR); empty by default.

    An address stands for itself (a /32 or /128). A network with host bits set
    ("10.0.0.5/24") is refused rather than guessed at.
    """
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ip_network(item))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"{name} is a comma-separated list of IP addresses or networks "
                f"(10.0.0.5, 10.0.0.0/24, fd00::/8); {error}"
            ) from None
    return networks
