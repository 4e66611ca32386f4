"""Links to a citizen: signed for one agent, good for one working day.

A citizen is reached only by a search for their full national ID or mobile
(or by registering them). The search's links carry a token instead of the
citizen's row id: signed (a made-up or altered token is refused), salted with
the agent's own id (a link copied to another agent opens nothing) and dated
(after LINK_MAX_AGE the citizen is searched for again). So nobody can step
through the registry by counting, and a leaked link is useless to anyone else.
The citizen's pages, the counter screen, the payment form and the card issue
all carry the same token (`?citizen=<token>`, a hidden field, the path).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.core import signing

from counter.models import Citizen

if TYPE_CHECKING:
    from django.contrib.auth.models import User

LINK_MAX_AGE = timedelta(hours=8)
_SALT = "counter.citizen-link"


def _salt(agent: User) -> str:
    return f"{_SALT}:{agent.pk}"


def citizen_token(*, agent: User, citizen: Citizen) -> str:
    """The token that opens `citizen` for `agent` (and nobody else) for LINK_MAX_AGE."""
    return signing.dumps(citizen.pk, salt=_salt(agent))


def citizen_pk_from_token(*, agent: User, token: str) -> int | None:
    """The citizen's id if `token` was made for `agent` and is still fresh, else None."""
    try:
        pk = signing.loads(token, salt=_salt(agent), max_age=LINK_MAX_AGE)
    except signing.BadSignature:  # altered, another agent's, or expired (a subclass)
        return None
    # Only this module signs with this salt, and only ids: anything else is refused.
    return pk if type(pk) is int else None
