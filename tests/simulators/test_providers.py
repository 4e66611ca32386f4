"""The app's clients of the wallet provider and the acquirer, against the real simulators."""

from datetime import UTC, date, datetime

import pytest

from simulators.testing import start
from tests.simulators.recorder import Recorder
from tests.simulators.test_wallet_sim import MERCHANT, SECRET, cairo_day, qr_payload
from wallet.providers import (
    AcquirerAuthorization,
    AcquirerRow,
    HttpAcquirer,
    HttpWalletProvider,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    ProviderUnavailable,
    SettlementRow,
    get_acquirer,
    get_wallet_provider,
)


class FakeProvider:
    def __init__(self, *, url, secret, merchant_id):
        self.url, self.secret, self.merchant_id = url, secret, merchant_id


@pytest.fixture
def wallet_sim():
    with start("wallet", secret=SECRET, merchant_id=MERCHANT) as sim:
        yield sim


@pytest.fixture
def acquirer_sim():
    with start("acquirer") as sim:
        yield sim


@pytest.fixture
def provider(settings, wallet_sim):
    settings.WALLET_PROVIDER_BACKEND = "wallet.providers.HttpWalletProvider"
    settings.WALLET_PROVIDER_URL = wallet_sim.url
    settings.WALLET_PROVIDER_SECRET = SECRET
    settings.WALLET_MERCHANT_ID = MERCHANT
    return get_wallet_provider()


@pytest.fixture
def acquirer(settings, acquirer_sim):
    settings.ACQUIRER_BACKEND = "wallet.providers.HttpAcquirer"
    settings.ACQUIRER_URL = acquirer_sim.url
    return get_acquirer()


def pay(sim, amount, reference, fault=None):
    body = {"qr": qr_payload(amount, reference), "wallet": "01001234567"}
    if fault:
        body["fault"] = fault
    answer = sim.post("/v1/payments", body)
    assert answer.status == 201, answer.text
    return answer.json()


def test_the_wallet_backend_is_the_one_the_settings_name(settings):
    settings.WALLET_PROVIDER_BACKEND = "tests.simulators.test_providers.FakeProvider"
    settings.WALLET_PROVIDER_URL = "http://wallet.example"
    settings.WALLET_PROVIDER_SECRET = "k"
    settings.WALLET_MERCHANT_ID = "M1"

    provider = get_wallet_provider()

    assert isinstance(provider, FakeProvider)
    assert (provider.url, provider.secret, provider.merchant_id) == (
        "http://wallet.example",
        "k",
        "M1",
    )


def test_the_http_backends_are_built_from_the_settings(provider, acquirer, wallet_sim):
    assert isinstance(provider, HttpWalletProvider)
    assert (provider.url, provider.secret, provider.merchant_id) == (
        wallet_sim.url,
        SECRET,
        MERCHANT,
    )
    assert isinstance(acquirer, HttpAcquirer)


def test_payments_for_a_reference_come_back_typed(provider, wallet_sim):
    txn = pay(wallet_sim, 12345, "PAY-1")

    [payment] = provider.payments_for("PAY-1")

    assert payment == ProviderPayment(
        txn_id=txn["txn_id"],
        reference="PAY-1",
        amount=12345,
        paid_at=datetime.fromisoformat(txn["paid_at"]),
        wallet="01001234567",
    )
    assert payment.paid_at.utcoffset().total_seconds() == 0
    assert provider.payments_for("PAY-NONE") == []


def test_a_reference_paid_twice_has_two_payments(provider, wallet_sim):
    pay(wallet_sim, 500, "PAY-2X", fault={"pay_twice": True})

    payments = provider.payments_for("PAY-2X")

    assert len({p.txn_id for p in payments}) == 2


def test_a_reference_with_odd_characters_is_quoted(provider, wallet_sim):
    pay(wallet_sim, 500, "A&B=C D")

    assert [p.reference for p in provider.payments_for("A&B=C D")] == ["A&B=C D"]


def test_a_refund_comes_back_typed_and_is_idempotent(provider, wallet_sim):
    txn = pay(wallet_sim, 10000, "PAY-1")

    first = provider.refund("R-1", txn["txn_id"], 2500)
    again = provider.refund("R-1", txn["txn_id"], 2500)

    assert first == again == ProviderRefund("R-1", txn["txn_id"], 2500, "refunded")


def test_a_refused_refund_raises_with_the_providers_status(provider, wallet_sim):
    txn = pay(wallet_sim, 10000, "PAY-1")
    provider.refund("R-1", txn["txn_id"], 2500)

    with pytest.raises(ProviderRefused) as conflict:
        provider.refund("R-1", txn["txn_id"], 3000)
    with pytest.raises(ProviderRefused) as too_much:
        provider.refund("R-2", txn["txn_id"], 7501)

    assert conflict.value.status == 409
    assert too_much.value.status == 422
    assert "7500" in too_much.value.message


def test_the_wallet_settlement_file_comes_back_typed(provider, wallet_sim):
    txn = pay(wallet_sim, 10000, "PAY-1")
    refund = wallet_sim.post(
        "/v1/refunds", {"refund_id": "R-1", "txn_id": txn["txn_id"], "amount": 400}
    ).json()
    day = cairo_day(txn["paid_at"])

    rows = provider.settlement_file(day)

    expected = [
        SettlementRow(
            txn["txn_id"], "PAY-1", 10000, datetime.fromisoformat(txn["paid_at"]), "payment"
        ),
        SettlementRow(
            txn["txn_id"], "R-1", -400, datetime.fromisoformat(refund["refunded_at"]), "refund"
        ),
    ]
    assert rows == [r for r in expected if cairo_day(r.paid_at.isoformat()) == day]


def test_the_wallet_settlement_file_with_mismatches_has_a_phantom(provider, wallet_sim):
    wallet_sim.post("/v1/faults", {"settlement_mismatches": True})

    rows = provider.settlement_file(date(2026, 3, 1))

    assert rows == [
        SettlementRow(
            "WT20260301999999", "PHANTOM", 5000, datetime(2026, 3, 1, 10, tzinfo=UTC), "payment"
        )
    ]


def test_the_acquirer_authorizes_and_settles(acquirer):
    authorization = acquirer.authorize("T0001", 15000, "4242")

    assert isinstance(authorization, AcquirerAuthorization)
    assert len(authorization.approval_code) == 6
    assert (authorization.terminal_id, authorization.amount, authorization.card_last4) == (
        "T0001",
        15000,
        "4242",
    )
    day = cairo_day(authorization.authorized_at.isoformat())
    assert acquirer.settlement_file(day) == [
        AcquirerRow(
            authorization.approval_code, "T0001", "4242", 15000, authorization.authorized_at
        )
    ]


def test_a_refused_authorization_raises_refused(acquirer):
    with pytest.raises(ProviderRefused) as refused:
        acquirer.authorize("T0001", 100, "42")

    assert refused.value.status == 400


def test_a_stopped_wallet_provider_is_unavailable(provider, wallet_sim):
    wallet_sim.stop()

    with pytest.raises(ProviderUnavailable):
        provider.payments_for("PAY-1")
    with pytest.raises(ProviderUnavailable):
        provider.refund("R-1", "WT12345678901234", 100)
    with pytest.raises(ProviderUnavailable):
        provider.settlement_file(date(2026, 3, 1))


def test_a_stopped_acquirer_is_unavailable(acquirer, acquirer_sim):
    acquirer_sim.stop()

    with pytest.raises(ProviderUnavailable):
        acquirer.authorize("T0001", 100, "4242")
    with pytest.raises(ProviderUnavailable):
        acquirer.settlement_file(date(2026, 3, 1))


def test_a_provider_slower_than_the_timeout_is_unavailable(wallet_sim):
    wallet_sim.post("/v1/faults", {"slow_status": 3})
    provider = HttpWalletProvider(url=wallet_sim.url, timeout=0.5)

    with pytest.raises(ProviderUnavailable):
        provider.payments_for("PAY-1")


def test_the_default_timeout_is_three_seconds(provider):
    assert provider.timeout == 3.0


def test_a_server_error_is_unavailable_and_a_client_error_is_refused():
    recorder = Recorder()
    try:
        provider = HttpWalletProvider(url=recorder.url.removesuffix("/wallet/callback"))
        recorder.answers = [503, 404]

        with pytest.raises(ProviderUnavailable, match="503"):
            provider.refund("R-1", "WT12345678901234", 100)
        with pytest.raises(ProviderRefused):
            provider.refund("R-1", "WT12345678901234", 100)
    finally:
        recorder.close()
