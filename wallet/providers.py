"""Clients of the outside payment systems: the wallet provider and the card acquirer.

Each is chosen by a dotted-path setting, as Django chooses its email backend:

- ``WALLET_PROVIDER_BACKEND`` (``WALLET_PROVIDER_URL``, ``WALLET_PROVIDER_SECRET``,
  ``WALLET_MERCHANT_ID``) for ``get_wallet_provider()``;
- ``ACQUIRER_BACKEND`` (``ACQUIRER_URL``) for ``get_acquirer()``.

``ProviderUnavailable`` means "try again later" (network error, timeout, 5xx);
``ProviderRefused`` means the provider said no and will say it again (4xx).
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_WALLET_BACKEND = "wallet.providers.HttpWalletProvider"
DEFAULT_WALLET_URL = "http://127.0.0.1:8701"
DEFAULT_ACQUIRER_BACKEND = "wallet.providers.HttpAcquirer"
DEFAULT_ACQUIRER_URL = "http://127.0.0.1:8702"
TIMEOUT = 3.0


class ProviderError(Exception):
    pass


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed; the same call may work later."""


class ProviderRefused(ProviderError):
    """The provider answered 4xx: asking again the same way will not help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ProviderPayment:
    txn_id: str
    reference: str
    amount: int
    paid_at: datetime
    wallet: str


@dataclass(frozen=True)
class ProviderRefund:
    refund_id: str
    txn_id: str
    amount: int
    status: str


@dataclass(frozen=True)
class SettlementRow:
    """A line of the wallet provider's daily file; a refund's amount is negative.

    ``reference`` is our payment reference on a payment's row and our refund id
    on a refund's.
    """

    txn_id: str
    reference: str
    amount: int
    paid_at: datetime
    kind: str


@dataclass(frozen=True)
class AcquirerAuthorization:
    approval_code: str
    auth_id: str
    terminal_id: str
    amount: int
    card_last4: str
    authorized_at: datetime


@dataclass(frozen=True)
class AcquirerRow:
    approval_code: str
    terminal_id: str
    card_last4: str
    amount: int
    authorized_at: datetime


class WalletProvider(Protocol):
    def payments_for(self, reference: str) -> list[ProviderPayment]: ...

    def refund(self, refund_id: str, txn_id: str, amount: int) -> ProviderRefund: ...

    def settlement_file(self, day: date) -> list[SettlementRow]: ...


class Acquirer(Protocol):
    def authorize(
        self, terminal_id: str, amount: int, card_last4: str
    ) -> AcquirerAuthorization: ...

    def settlement_file(self, day: date) -> list[AcquirerRow]: ...


def get_wallet_provider() -> WalletProvider:
    backend = import_string(getattr(settings, "WALLET_PROVIDER_BACKEND", DEFAULT_WALLET_BACKEND))
    return backend(
        url=getattr(settings, "WALLET_PROVIDER_URL", DEFAULT_WALLET_URL),
        secret=getattr(settings, "WALLET_PROVIDER_SECRET", ""),
        merchant_id=getattr(settings, "WALLET_MERCHANT_ID", ""),
    )


def get_acquirer() -> Acquirer:
    backend = import_string(getattr(settings, "ACQUIRER_BACKEND", DEFAULT_ACQUIRER_BACKEND))
    return backend(url=getattr(settings, "ACQUIRER_URL", DEFAULT_ACQUIRER_URL))


class _HttpClient:
    def __init__(self, *, url: str, timeout: float = TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, data: dict | None = None) -> bytes:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(
            self.url + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as exc:
            with exc:
                detail = _error_message(exc.read())
            if exc.code >= 500:
                raise ProviderUnavailable(f"{method} {path}: {exc.code} {detail}") from exc
            raise ProviderRefused(exc.code, detail) from exc
        except (OSError, http.client.HTTPException) as exc:
            # URLError and timeouts are OSErrors; a connection cut mid-answer is neither.
            reason = getattr(exc, "reason", exc)
            raise ProviderUnavailable(f"{method} {path}: {reason}") from exc

    def _json(self, method: str, path: str, data: dict | None = None):
        raw = self._call(method, path, data)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ProviderUnavailable(f"{method} {path}: the answer is not JSON") from exc

    def _csv(self, path: str) -> list[dict[str, str]]:
        raw = self._call("GET", path)
        return list(csv.DictReader(io.StringIO(raw.decode())))


class HttpWalletProvider(_HttpClient):
    def __init__(self, *, url: str, secret: str = "", merchant_id: str = "", timeout=TIMEOUT):
        super().__init__(url=url, timeout=timeout)
        # The secret signs the provider's callbacks to us; the calls we make carry none.
        self.secret = secret
        self.merchant_id = merchant_id

    def payments_for(self, reference: str) -> list[ProviderPayment]:
        query = urllib.parse.urlencode({"reference": reference})
        answer = self._json("GET", f"/v1/payments?{query}")
        return [
            ProviderPayment(
                txn_id=txn["txn_id"],
                reference=txn["reference"],
                amount=int(txn["amount"]),
                paid_at=_aware(txn["paid_at"]),
                wallet=txn["wallet"],
            )
            for txn in answer["payments"]
        ]

    def refund(self, refund_id: str, txn_id: str, amount: int) -> ProviderRefund:
        answer = self._json(
            "POST", "/v1/refunds", {"refund_id": refund_id, "txn_id": txn_id, "amount": amount}
        )
        return ProviderRefund(
            refund_id=answer["refund_id"],
            txn_id=answer["txn_id"],
            amount=int(answer["amount"]),
            status=answer["status"],
        )

    def settlement_file(self, day: date) -> list[SettlementRow]:
        return [
            SettlementRow(
                txn_id=row["txn_id"],
                reference=row["reference"],
                amount=int(row["amount"]),
                paid_at=_aware(row["paid_at"]),
                kind=row["kind"],
            )
            for row in self._csv(f"/v1/settlement?day={day.isoformat()}")
        ]


class HttpAcquirer(_HttpClient):
    def authorize(self, terminal_id: str, amount: int, card_last4: str) -> AcquirerAuthorization:
        answer = self._json(
            "POST",
            "/v1/authorizations",
            {"terminal_id": terminal_id, "amount": amount, "card_last4": card_last4},
        )
        return AcquirerAuthorization(
            approval_code=answer["approval_code"],
            auth_id=answer["auth_id"],
            terminal_id=answer["terminal_id"],
            amount=int(answer["amount"]),
            card_last4=answer["card_last4"],
            authorized_at=_aware(answer["authorized_at"]),
        )

    def settlement_file(self, day: date) -> list[AcquirerRow]:
        return [
            AcquirerRow(
                approval_code=row["approval_code"],
                terminal_id=row["terminal_id"],
                card_last4=row["card_last4"],
                amount=int(row["amount"]),
                authorized_at=_aware(row["authorized_at"]),
            )
            for row in self._csv(f"/v1/settlement?day={day.isoformat()}")
        ]


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ProviderUnavailable(f"the provider sent a time without a zone: {text!r}")
    return moment


def _error_message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"])
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace")[:200]
