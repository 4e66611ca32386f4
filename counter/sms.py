"""Sending SMS, through a backend chosen by settings.SMS_BACKEND, as Django does for email.

Services call `send_sms`, which sends only once the surrounding transaction
commits: a registration that rolls back sends no code.

Every backend keeps the SmsMessage outbox complete, so head office sees in
the admin everything the system sent, whatever the backend:

- `OutboxBackend` (the default) only writes the outbox row; nothing leaves
  the building. Right for the laptop, the tests and a demo.
- `ConsoleBackend` writes the row and prints the message to stdout.

A gateway backend subclasses `OutboxBackend` and extends `send`: call the
gateway first (raise on failure, so no row claims a message that was not
sent), then `super().send(...)` to record it. For example::

    class AcmeGatewayBackend(OutboxBackend):
        def send(self, *, to: str, body: str) -> SmsMessage:
            acme_client.send(to=to, text=body, timeout=5)
            return super().send(to=to, body=body)

and set SMS_BACKEND = "counter.sms_acme.AcmeGatewayBackend". Sends run after
commit with robust=True: a gateway failure is logged and does not turn a
committed registration into an error page; the agent sends a new code.
"""

from __future__ import annotations

import sys
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from counter.models import SmsMessage

DEFAULT_BACKEND = "counter.sms.OutboxBackend"


class BaseBackend:
    """One way of sending an SMS. Subclasses implement `send`."""

    @classmethod
    def dotted_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def send(self, *, to: str, body: str) -> SmsMessage | None:
        """Send `body` to `to` (E.164) now; raise if it could not be sent."""
        raise NotImplementedError("an SMS backend must implement send()")


class OutboxBackend(BaseBackend):
    """Writes the message to the outbox table, and nothing else."""

    def send(self, *, to: str, body: str) -> SmsMessage:
        return SmsMessage.objects.create(
            to=to, body=body, sent_at=timezone.now(), backend=self.dotted_path()
        )


class ConsoleBackend(OutboxBackend):
    """The outbox row, and the message printed to stdout (for `make run`)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, *, to: str, body: str) -> SmsMessage:
        message = super().send(to=to, body=body)
        stream = self.stream or sys.stdout
        stream.write(f"SMS to {to}:\n{body}\n{'-' * 40}\n")
        stream.flush()
        return message


def get_backend(path: str | None = None) -> BaseBackend:
    """An instance of the backend at `path`, or of settings.SMS_BACKEND."""
    path = path or getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND)
    try:
        backend_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"SMS_BACKEND {path!r} cannot be imported: {error}") from error
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise ImproperlyConfigured(f"SMS_BACKEND {path!r} is not a counter.sms.BaseBackend")
    return backend_class()


def send_sms(*, to: str, body: str) -> None:
    """Send an SMS once the current transaction commits (at once outside a transaction).

    The backend is looked up now, so a wrong SMS_BACKEND fails the caller's
    transaction loudly instead of being logged after commit.
    """
    backend = get_backend()
    transaction.on_commit(lambda: backend.send(to=to, body=body), robust=True)
