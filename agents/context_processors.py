from typing import Any

from django.http import HttpRequest

from agents.permissions import scope_of


def scope(request: HttpRequest) -> dict[str, Any]:
    """The person's role and scope, for the navigation bar."""
    return {"scope": scope_of(getattr(request, "user", None))}
