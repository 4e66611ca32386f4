"""A day's settlement waits for its providers' files to be reconciled, then lists what differs."""

import pytest
from django.urls import reverse
from django.utils.translation import override

from core.errors import InvalidState
from reconciliation.services import reconciliation_run
from settlement.models import SettlementBatch
from settlement.services import settlement_run
from tests.reconciliation.conftest import card_row
from tests.scenario import close_session, day_is_over, day_of


@pytest.fixture(autouse=True)
def _in_english():
    """The notes and refusals are read here in English (the app's first language is Arabic)."""
    with override("en"):
        yield


SCENARIO_FIXTURES = (day_is_over,)


@pytest.fixture
def card_day(pay_by_card, open_till, supervisor_a, denominations):
    """One bank-card payment, the till closed: the day is over but not reconciled."""
    payment = pay_by_card("AB12CD")
    close_session(open_till, supervisor_a, denominations)
    return payment


def test_a_day_with_bank_card_money_waits_for_the_acquirers_file(
    card_day, head_office, day_is_over, fakes_set
):
    with pytest.raises(InvalidState, match="Reconcile the daily file of Bank card"):
        settlement_run(business_day=day_of(card_day), by=head_office)
    assert not SettlementBatch.objects.exists()


def test_once_reconciled_the_day_settles_and_the_page_lists_what_differs(
    client, card_day, head_office, day_is_over, fakes_set
):
    day = day_of(card_day)
    fakes_set.FakeAcquirer.rows = [card_row(card_day, amount=card_day.total + 100)]
    reconciliation_run(source="bankcard", business_day=day, by=head_office)

    client.force_login(head_office)
    response = client.post(reverse("settlement_run"), {"business_day": day.isoformat()})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('settlement_list')}?day={day.isoformat()}"
    assert SettlementBatch.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert 'id="settlement-unmatched"' in page
    assert "A0001-01:AB12CD" in page


def test_a_matched_day_says_so(client, card_day, head_office, day_is_over, fakes_set):
    day = day_of(card_day)
    fakes_set.FakeAcquirer.rows = [card_row(card_day)]
    reconciliation_run(source="bankcard", business_day=day, by=head_office)
    settlement_run(business_day=day, by=head_office)

    client.force_login(head_office)
    page = client.get(f"{reverse('settlement_list')}?day={day.isoformat()}").content.decode()
    assert 'id="settlement-unmatched"' in page and "A0001-01:AB12CD" not in page
