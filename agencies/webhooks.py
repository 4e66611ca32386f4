"""An agency pushes a request's status change: signed, replay-refused, idempotent.

``POST /agencies/webhook/<agency_code>/status/``, as the wallet provider's callback:
headers ``X-Agency-Timestamp`` (unix seconds) and ``X-Agency-Signature`` (hex
HMAC-SHA256 of ``timestamp + "." + body`` with that agency's ``secret`` in
settings.AGENCY_SYSTEMS). Answers:

- 401: no, bad or stale (more than 5 minutes off) signature, or an agency without a secret;
- 403: the very same signed request again (a replay; the signature's case does not matter);
- 400: a body that is not the change it should be;
- 404: an agency we do not know, or a payment reference that opened no request of its;
- 409: a change that cannot follow the request's status (nothing is written);
- 200: stored (``outcome`` applied, stored as history, or duplicate of a change_id).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agencies.adapters import agency_systems
from agencies.models import RequestStatus, WebhookSeen
from agencies.statuses import IllegalTransition, UnknownRequest, status_change_receive
from core.errors import DomainError
from core.signing import SignatureError, verify
from counter.models import Agency

logger = logging.getLogger(__name__)

TOLERANCE = 300  # seconds either side of now


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _verify(secret: str, timestamp_header: str, signature: str, body: bytes, now: float) -> None:
    if not secret:
        raise _Refused(401, "this agency has no webhook secret configured")
    try:
        verify(
            secret.encode(),
            timestamp_header,
            signature,
            body,
            now=now,
            tolerance=TOLERANCE,
            sender="Agency",
        )
    except SignatureError as error:
        raise _Refused(401, str(error)) from None


def _text(data: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Refused(400, f"{key} must be a non-empty string")
    if len(value) > limit and required:
        raise _Refused(400, f"{key} is longer than {limit} characters")
    try:
        value.encode("utf-8")  # a lone surrogate from "\ud800" cannot be stored
    except UnicodeEncodeError:
        raise _Refused(400, f"{key} is not valid text") from None
    if "\x00" in value:
        raise _Refused(400, f"{key} holds a NUL character")
    return value.strip()[:limit]


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body is not an object")
    event = data.get("event", "request.status")
    if event != "request.status":
        raise _Refused(400, "event must be request.status")
    status = data.get("status")
    if not isinstance(status, str) or status not in RequestStatus.values:
        raise _Refused(400, f"status must be one of {', '.join(RequestStatus.values)}")
    refundable = data.get("refundable", False)
    if not isinstance(refundable, bool):
        raise _Refused(400, "refundable must be true or false")
    changed_by_key = "by" if "by" in data else "changed_by"
    try:
        changed_at = datetime.fromisoformat(_text(data, "changed_at", limit=40))
    except ValueError:
        raise _Refused(400, "changed_at is not an ISO 8601 time") from None
    if changed_at.tzinfo is None:
        raise _Refused(400, "changed_at has no time zone")
    try:
        changed_at = changed_at.astimezone(UTC)  # as it is stored
    except OverflowError:
        raise _Refused(400, "changed_at is out of range") from None
    # A change dated ahead would make every later one look older, and freeze the request.
    if changed_at.timestamp() > time.time() + TOLERANCE:
        raise _Refused(400, "changed_at is in the future")
    return {
        "payment_reference": _text(data, "payment_reference", limit=14),
        "change_id": _text(data, "change_id", limit=64),
        "status": status,
        "reason": _text(data, "reason", limit=200, required=False),
        "refundable": refundable,
        "changed_by": _text(data, changed_by_key, limit=120),
        "changed_at": changed_at,
    }


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # the agency signs its request instead
@require_POST
def status_webhook(request: HttpRequest, agency_code: str) -> HttpResponse:
    """A request's status changed at the agency: stored once, applied if it is the newest."""
    system = agency_systems().get(agency_code)
    agency = Agency.objects.filter(code=agency_code).first() if system else None
    if agency is None:
        return _error(404, "no such agency")
    body = request.body
    # As compared: the same signature in capitals is the same replay.
    signature = request.headers.get("X-Agency-Signature", "").strip().lower()
    try:
        _verify(
            system["secret"],
            request.headers.get("X-Agency-Timestamp", ""),
            signature,
            body,
            time.time(),
        )
    except _Refused as refused:
        logger.warning("agency webhook of %s refused: %s", agency_code, refused)
        return _error(refused.status, str(refused))
    if WebhookSeen.objects.filter(signature=signature).exists():
        return _error(403, "this webhook was already received (a replay)")
    try:
        fields = _parse(body)
    except _Refused as refused:
        return _error(refused.status, f"bad webhook: {refused}")
    try:
        received = status_change_receive(agency=agency, **fields)
    except UnknownRequest as error:
        return _error(404, str(error))
    except IllegalTransition as error:
        return _error(409, str(error))
    except DomainError as error:
        return _error(422, str(error))
    # Two deliveries of the same bytes at once: both stored the one change.
    with contextlib.suppress(IntegrityError), transaction.atomic():
        WebhookSeen.objects.create(signature=signature)
    change = received.change
    return JsonResponse(
        {
            "change_id": change.change_id,
            "outcome": received.outcome,
            "status": change.request.status,
        }
    )
