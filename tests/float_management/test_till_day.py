"""The till's day through the services: vault, opening float, top-up, drops, blind close."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import (
    InsufficientFunds,
    InvalidAmount,
    InvalidState,
    NotAllowed,
    TillOverLimit,
)
from core.money import MAX_AMOUNT
from float_management import services
from float_management.ledger import over_short_account, transit_account, vault_account
from float_management.models import (
    CashCount,
    Decision,
    Request,
    RequestKind,
    SessionStatus,
    TillSession,
    Transfer,
    TransferKind,
    VaultMovement,
)
from float_management.verify import ledger_verify
from tests.float_management.helpers import (
    OPENING_FLOAT,
    VAULT_START,
    balance,
    counts_for,
    new_key,
    opening_request,
)

pytestmark = pytest.mark.django_db


def request_open(agent, counter, amount=OPENING_FLOAT) -> TillSession:
    return services.till_session_request_open(
        agent=agent, counter=counter, amount=amount, idempotency_key=new_key()
    )


def drop(agent, session, amount):
    return services.cash_drop(
        agent=agent, session=session, amount=amount, idempotency_key=new_key()
    )


def top_up(agent, session, amount) -> Request:
    return services.float_request_top_up(
        agent=agent, session=session, amount=amount, idempotency_key=new_key()
    )


def submit_count(agent, session, counts) -> Request:
    return services.till_session_submit_count(
        agent=agent, session=session, counts=counts, idempotency_key=new_key()
    )


def status_of(session: TillSession) -> str:
    return TillSession.objects.values_list("status", flat=True).get(pk=session.pk)


# --- Vault and bank ---------------------------------------------------------------------------


def _record(branch, supervisor, witness, *, direction="in", amount=VAULT_START):
    return services.vault_move(
        branch=branch,
        direction=direction,
        amount=amount,
        handled_by=supervisor,
        witnessed_by=witness,
        idempotency_key=new_key(),
    )


def test_cash_from_the_bank_fills_the_vault_once_the_witness_confirms(
    branch_a, supervisor_a, agent_a2
):
    movement = _record(branch_a, supervisor_a, agent_a2)
    assert movement.transfer is None and balance(vault_account(branch_a)) == 0

    services.vault_move_confirm(witness=agent_a2, movement=movement)

    movement.refresh_from_db()
    assert (movement.handled_by, movement.witnessed_by) == (supervisor_a, agent_a2)
    assert movement.transfer.kind == TransferKind.BANK_IN
    assert movement.transfer.created_by == agent_a2
    assert balance(vault_account(branch_a)) == VAULT_START
    assert balance(transit_account(branch_a)) == -VAULT_START


def test_cash_back_to_the_bank_empties_the_vault(branch_a, supervisor_a, agent_a2, funded_vault):
    movement = _record(branch_a, supervisor_a, agent_a2, direction="out")
    services.vault_move_confirm(witness=agent_a2, movement=movement)

    assert balance(vault_account(branch_a)) == 0
    assert balance(transit_account(branch_a)) == 0


def test_a_named_witness_who_never_confirms_moves_no_cash(
    branch_a, supervisor_a, agent_a2, funded_vault
):
    """The finding: one supervisor naming a witness sent vault cash "to the bank" alone."""
    movement = _record(branch_a, supervisor_a, agent_a2, direction="out")

    for someone in (supervisor_a,):
        with pytest.raises(NotAllowed):
            services.vault_move_confirm(witness=someone, movement=movement)

    movement.refresh_from_db()
    assert movement.transfer is None and movement.is_pending
    assert balance(vault_account(branch_a)) == VAULT_START


def test_a_declined_movement_can_no_longer_be_confirmed(
    branch_a, supervisor_a, agent_a2, funded_vault
):
    movement = _record(branch_a, supervisor_a, agent_a2, direction="out")
    services.vault_move_cancel(user=agent_a2, movement=movement)

    with pytest.raises(InvalidState):
        services.vault_move_confirm(witness=agent_a2, movement=movement)

    assert balance(vault_account(branch_a)) == VAULT_START


def test_the_vault_cannot_send_more_than_it_holds(branch_a, supervisor_a, agent_a2, funded_vault):
    movement = _record(branch_a, supervisor_a, agent_a2, direction="out", amount=VAULT_START + 1)
    with pytest.raises(InsufficientFunds):
        services.vault_move_confirm(witness=agent_a2, movement=movement)

    movement.refresh_from_db()
    assert movement.transfer is None
    assert balance(vault_account(branch_a)) == VAULT_START


@pytest.mark.parametrize("witness", ["nobody", "self", "other_branch"])
def test_a_vault_move_needs_a_second_person_of_the_branch(branch_a, supervisor_a, agent_b, witness):
    witnessed_by = {"nobody": None, "self": supervisor_a, "other_branch": agent_b}[witness]

    with pytest.raises(NotAllowed):
        services.vault_move(
            branch=branch_a,
            direction="in",
            amount=1_000,
            handled_by=supervisor_a,
            witnessed_by=witnessed_by,
            idempotency_key=new_key(),
        )

    assert not VaultMovement.objects.exists()
    assert not Transfer.objects.exists()


@pytest.mark.parametrize("handler", ["agent_a", "supervisor_b"])
def test_only_a_supervisor_of_the_branch_handles_its_vault(
    branch_a, agent_a, supervisor_b, agent_a2, handler
):
    handled_by = {"agent_a": agent_a, "supervisor_b": supervisor_b}[handler]

    with pytest.raises(NotAllowed):
        services.vault_move(
            branch=branch_a,
            direction="in",
            amount=1_000,
            handled_by=handled_by,
            witnessed_by=agent_a2,
            idempotency_key=new_key(),
        )

    assert not Transfer.objects.exists()


def test_the_database_refuses_a_vault_move_handled_and_witnessed_by_one_person(
    branch_a, supervisor_a, funded_vault
):
    with pytest.raises(IntegrityError), transaction.atomic():
        VaultMovement.objects.create(
            branch=branch_a,
            direction="in",
            amount=1,
            handled_by=supervisor_a,
            witnessed_by=supervisor_a,
        )


def test_the_database_refuses_a_vault_move_posted_without_a_confirmation(
    branch_a, supervisor_a, agent_a2, funded_vault
):
    transfer = Transfer.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        VaultMovement.objects.create(
            branch=branch_a,
            direction="in",
            amount=1,
            handled_by=supervisor_a,
            witnessed_by=agent_a2,
            transfer=transfer,
        )


# --- Opening ----------------------------------------------------------------------------------


def test_requesting_an_opening_float_waits_for_a_supervisor(
    agent_a, counter_a, branch_a, funded_vault
):
    session = request_open(agent_a, counter_a)

    assert status_of(session) == SessionStatus.REQUESTED
    request = opening_request(session)
    assert (request.amount, request.requested_by, request.branch) == (
        OPENING_FLOAT,
        agent_a,
        branch_a,
    )
    assert balance(session.account) == 0
    assert balance(vault_account(branch_a)) == VAULT_START


def test_an_approved_opening_float_opens_the_till_from_the_vault(
    agent_a, counter_a, supervisor_a, branch_a, funded_vault
):
    session = request_open(agent_a, counter_a)

    decision = services.request_decide(
        request=opening_request(session), supervisor=supervisor_a, approve=True
    )

    session.refresh_from_db()
    assert session.status == SessionStatus.OPEN
    assert session.opened_at is not None
    assert balance(session.account) == OPENING_FLOAT
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT
    assert decision.approved
    assert decision.decided_by == supervisor_a
    assert decision.requested_by == agent_a
    assert decision.transfer.kind == TransferKind.FLOAT_ISSUE
    assert ledger_verify().ok


def test_a_supervisor_cannot_decide_their_own_request(
    agent_a, counter_a, supervisor_a, branch_a, funded_vault
):
    session = request_open(agent_a, counter_a)
    own = Request.objects.create(
        kind=RequestKind.TOP_UP_FLOAT,
        branch=branch_a,
        session=session,
        amount=1_000,
        requested_by=supervisor_a,
    )

    with pytest.raises(NotAllowed):
        services.request_decide(request=own, supervisor=supervisor_a, approve=True)

    assert not Decision.objects.exists()


def test_an_agent_cannot_approve(agent_a, counter_a, agent_a2, funded_vault):
    session = request_open(agent_a, counter_a)

    with pytest.raises(NotAllowed):
        services.request_decide(request=opening_request(session), supervisor=agent_a2, approve=True)

    assert status_of(session) == SessionStatus.REQUESTED
    assert not Decision.objects.exists()


def test_a_supervisor_of_another_branch_cannot_approve(
    agent_a, counter_a, supervisor_b, funded_vault
):
    session = request_open(agent_a, counter_a)

    with pytest.raises(NotAllowed):
        services.request_decide(
            request=opening_request(session), supervisor=supervisor_b, approve=True
        )

    assert status_of(session) == SessionStatus.REQUESTED
    assert balance(session.account) == 0


def test_a_rejection_needs_a_reason(agent_a, counter_a, supervisor_a, funded_vault):
    session = request_open(agent_a, counter_a)

    with pytest.raises(InvalidState):
        services.request_decide(
            request=opening_request(session), supervisor=supervisor_a, approve=False, reason="  "
        )

    assert status_of(session) == SessionStatus.REQUESTED
    assert not Decision.objects.exists()


def test_a_rejected_opening_leaves_the_vault_alone_and_frees_the_counter(
    agent_a, counter_a, supervisor_a, branch_a, funded_vault
):
    session = request_open(agent_a, counter_a)

    decision = services.request_decide(
        request=opening_request(session),
        supervisor=supervisor_a,
        approve=False,
        reason=" Too much for a Friday ",
    )

    session.refresh_from_db()
    assert session.status == SessionStatus.REJECTED
    assert session.closed_at is not None
    assert (decision.approved, decision.reason, decision.transfer) == (
        False,
        "Too much for a Friday",
        None,
    )
    assert balance(session.account) == 0
    assert balance(vault_account(branch_a)) == VAULT_START
    assert status_of(request_open(agent_a, counter_a)) == SessionStatus.REQUESTED


def test_a_decision_is_final(agent_a, counter_a, supervisor_a, funded_vault):
    session = request_open(agent_a, counter_a)
    request = opening_request(session)
    approval = services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    with pytest.raises(InvalidState):
        services.request_decide(request=request, supervisor=supervisor_a, approve=False, reason="x")

    assert Decision.objects.get() == approval
    assert status_of(session) == SessionStatus.OPEN


def test_an_opening_float_larger_than_the_vault_is_refused_until_the_vault_is_filled(
    agent_a, counter_a, supervisor_a, agent_a2, branch_a, funded_vault
):
    session = request_open(agent_a, counter_a, amount=VAULT_START + 1)
    request = opening_request(session)

    with pytest.raises(InsufficientFunds):
        services.request_decide(request=request, supervisor=supervisor_a, approve=True)
    assert status_of(session) == SessionStatus.REQUESTED
    assert not Decision.objects.exists()

    movement = _record(branch_a, supervisor_a, agent_a2, amount=1)
    services.vault_move_confirm(witness=agent_a2, movement=movement)
    services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    assert status_of(session) == SessionStatus.OPEN
    assert balance(vault_account(branch_a)) == 0


def test_it_refuses_a_second_active_session_at_one_counter(
    agent_a, agent_a2, counter_a, funded_vault
):
    request_open(agent_a, counter_a)

    with pytest.raises(InvalidState):
        request_open(agent_a2, counter_a)

    assert TillSession.objects.filter(counter=counter_a).count() == 1


def test_it_refuses_a_second_active_session_for_one_agent(
    agent_a, counter_a, counter_a2, funded_vault
):
    request_open(agent_a, counter_a)

    with pytest.raises(InvalidState):
        request_open(agent_a, counter_a2)

    assert TillSession.objects.filter(agent=agent_a).count() == 1


def test_an_open_session_also_holds_its_counter_and_agent(
    open_session, agent_a, agent_a2, counter_a, counter_a2
):
    with pytest.raises(InvalidState):
        request_open(agent_a2, counter_a)
    with pytest.raises(InvalidState):
        request_open(agent_a, counter_a2)

    assert TillSession.objects.count() == 1


def test_the_database_refuses_a_second_active_session_at_one_counter(
    open_session, agent_a2, counter_a
):
    from float_management.ledger import account_for
    from float_management.models import AccountKind

    with pytest.raises(IntegrityError), transaction.atomic():
        TillSession.objects.create(
            counter=counter_a,
            branch=counter_a.branch,
            agent=agent_a2,
            account=account_for(AccountKind.TILL, "till:second"),
        )


def test_an_agent_of_another_branch_cannot_open_a_till_here(agent_b, counter_a):
    with pytest.raises(NotAllowed):
        request_open(agent_b, counter_a)

    assert not TillSession.objects.exists()


def test_a_counter_out_of_service_cannot_be_opened(agent_a, counter_a):
    counter_a.is_active = False
    counter_a.save(update_fields=["is_active"])

    with pytest.raises(InvalidState):
        request_open(agent_a, counter_a)

    assert not TillSession.objects.exists()


@pytest.mark.parametrize("amount", [0, -100, 150.0, True, "100", MAX_AMOUNT + 1], ids=repr)
def test_it_refuses_an_opening_float_that_is_not_a_positive_int(agent_a, counter_a, amount):
    with pytest.raises(InvalidAmount):
        request_open(agent_a, counter_a, amount=amount)

    assert not TillSession.objects.exists()


# --- During the day ---------------------------------------------------------------------------


def test_an_approved_top_up_adds_to_the_till(open_session, agent_a, supervisor_a, branch_a):
    request = top_up(agent_a, open_session, 30_000)
    assert request.kind == RequestKind.TOP_UP_FLOAT
    assert balance(open_session.account) == OPENING_FLOAT

    decision = services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    assert decision.transfer.kind == TransferKind.FLOAT_ISSUE
    assert balance(open_session.account) == OPENING_FLOAT + 30_000
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT - 30_000
    assert status_of(open_session) == SessionStatus.OPEN


def test_a_rejected_top_up_moves_nothing(open_session, agent_a, supervisor_a, branch_a):
    request = top_up(agent_a, open_session, 30_000)

    services.request_decide(request=request, supervisor=supervisor_a, approve=False, reason="No")

    assert balance(open_session.account) == OPENING_FLOAT
    assert status_of(open_session) == SessionStatus.OPEN


def test_a_top_up_needs_an_open_session(agent_a, counter_a, funded_vault):
    session = request_open(agent_a, counter_a)

    with pytest.raises(InvalidState):
        top_up(agent_a, session, 1_000)

    assert session.requests.count() == 1


def test_an_agent_cannot_ask_for_a_top_up_of_another_till(open_session, agent_a2):
    with pytest.raises(NotAllowed):
        top_up(agent_a2, open_session, 1_000)

    assert open_session.requests.count() == 1


def test_a_cash_drop_moves_cash_from_the_till_to_the_vault(open_session, agent_a, branch_a):
    transfer = drop(agent_a, open_session, 50_000)

    assert transfer.kind == TransferKind.CASH_DROP
    assert transfer.created_by == agent_a
    assert balance(open_session.account) == OPENING_FLOAT - 50_000
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT + 50_000
    assert ledger_verify().ok


def test_a_cash_drop_can_empty_the_till(open_session, agent_a):
    drop(agent_a, open_session, OPENING_FLOAT)

    assert balance(open_session.account) == 0


def test_a_cash_drop_larger_than_the_till_is_refused(open_session, agent_a, branch_a):
    transfers = Transfer.objects.count()

    with pytest.raises(InsufficientFunds):
        drop(agent_a, open_session, OPENING_FLOAT + 1)

    assert Transfer.objects.count() == transfers
    assert balance(open_session.account) == OPENING_FLOAT
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "500", MAX_AMOUNT + 1], ids=repr)
def test_it_refuses_a_cash_drop_that_is_not_a_positive_int(open_session, agent_a, amount):
    with pytest.raises(InvalidAmount):
        drop(agent_a, open_session, amount)

    assert balance(open_session.account) == OPENING_FLOAT


def test_an_agent_cannot_drop_cash_from_another_till(open_session, agent_a2):
    with pytest.raises(NotAllowed):
        drop(agent_a2, open_session, 1_000)

    assert balance(open_session.account) == OPENING_FLOAT


def test_a_cash_drop_needs_an_open_session(agent_a, counter_a, funded_vault):
    session = request_open(agent_a, counter_a)

    with pytest.raises(InvalidState):
        drop(agent_a, session, 1)


def test_a_cash_drop_runs_in_a_fixed_number_of_queries(
    open_session, agent_a, django_assert_num_queries
):
    # Savepoint, key claim and read, session lock, vault, till, transfer (lock, insert,
    # entries, balances), key result, release.
    with django_assert_num_queries(11):
        drop(agent_a, open_session, 1_000)


# --- Close ------------------------------------------------------------------------------------


def test_the_blind_count_puts_the_session_in_closing_and_stops_drops_and_top_ups(
    open_session, agent_a, denominations
):
    counts = {denominations["note", 20000].pk: 9, denominations["coin", 25].pk: 3}

    request = submit_count(agent_a, open_session, counts)

    assert status_of(open_session) == SessionStatus.CLOSING
    assert request.kind == RequestKind.CLOSE
    assert request.amount == 180_075
    count = CashCount.objects.get(pk=request.subject_id)
    assert (count.total, count.counted_by) == (180_075, agent_a)
    assert sorted(count.lines.values_list("denomination__value", "quantity")) == [
        (25, 3),
        (20000, 9),
    ]
    with pytest.raises(InvalidState):
        drop(agent_a, open_session, 1_000)
    with pytest.raises(InvalidState):
        top_up(agent_a, open_session, 1_000)
    assert balance(open_session.account) == OPENING_FLOAT


def test_the_count_waits_for_pending_requests(open_session, agent_a, denominations):
    top_up(agent_a, open_session, 1_000)

    with pytest.raises(InvalidState):
        submit_count(agent_a, open_session, counts_for(denominations, OPENING_FLOAT))

    assert status_of(open_session) == SessionStatus.OPEN
    assert not CashCount.objects.exists()


@pytest.mark.parametrize("bad", ["unknown", "negative", "float", "bool"])
def test_it_refuses_a_count_that_is_not_whole_notes_of_known_kinds(
    open_session, agent_a, denominations, bad
):
    note = denominations["note", 10000].pk
    counts = {
        "unknown": {999_999: 1},
        "negative": {note: -1},
        "float": {note: 1.0},
        "bool": {note: True},
    }[bad]

    with pytest.raises(InvalidState):
        submit_count(agent_a, open_session, counts)

    assert status_of(open_session) == SessionStatus.OPEN
    assert not CashCount.objects.exists()


def test_an_agent_cannot_count_another_till(open_session, agent_a2, denominations):
    with pytest.raises(NotAllowed):
        submit_count(agent_a2, open_session, counts_for(denominations, OPENING_FLOAT))

    assert status_of(open_session) == SessionStatus.OPEN


@pytest.mark.parametrize(
    ("counted", "variance"), [(149_500, -500), (150_100, 100)], ids=["short", "over"]
)
def test_sign_off_posts_the_variance_and_returns_the_cash_to_the_vault(
    open_session, agent_a, supervisor_a, branch_a, denominations, counted, variance
):
    drop(agent_a, open_session, 50_000)
    expected = OPENING_FLOAT - 50_000
    request = submit_count(agent_a, open_session, counts_for(denominations, counted))

    services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    open_session.refresh_from_db()
    assert open_session.status == SessionStatus.CLOSED
    assert open_session.closed_at is not None
    assert (open_session.counted, open_session.expected) == (counted, expected)
    assert open_session.variance == counted - expected == variance
    assert balance(open_session.account) == 0
    # An overage is the branch's gain, a shortage its loss, read the natural way round.
    assert balance(over_short_account(branch_a)) == variance
    assert balance(vault_account(branch_a)) == VAULT_START - OPENING_FLOAT + 50_000 + counted
    assert Transfer.objects.filter(kind=TransferKind.CLOSE_VARIANCE).count() == 1
    assert Transfer.objects.filter(kind=TransferKind.CLOSE_RETURN).count() == 1
    assert ledger_verify().ok


def test_an_exact_count_posts_no_variance(
    open_session, agent_a, supervisor_a, branch_a, denominations
):
    request = submit_count(agent_a, open_session, counts_for(denominations, OPENING_FLOAT))

    services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    open_session.refresh_from_db()
    assert open_session.variance == 0
    assert not Transfer.objects.filter(kind=TransferKind.CLOSE_VARIANCE).exists()
    assert balance(open_session.account) == 0
    assert balance(vault_account(branch_a)) == VAULT_START


def test_an_empty_till_counted_as_empty_closes_with_the_whole_float_short(
    open_session, agent_a, supervisor_a, branch_a, denominations
):
    request = submit_count(agent_a, open_session, {denominations["note", 20000].pk: 0})
    assert request.amount is None

    services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    open_session.refresh_from_db()
    assert (open_session.counted, open_session.variance) == (0, -OPENING_FLOAT)
    assert balance(open_session.account) == 0
    assert balance(over_short_account(branch_a)) == -OPENING_FLOAT
    assert not Transfer.objects.filter(kind=TransferKind.CLOSE_RETURN).exists()
    assert ledger_verify().ok


def test_a_supervisors_recount_overrides_the_agents_count(
    open_session, agent_a, supervisor_a, branch_a, denominations
):
    request = submit_count(agent_a, open_session, counts_for(denominations, 140_000))

    services.request_decide(
        request=request,
        supervisor=supervisor_a,
        approve=True,
        recount=counts_for(denominations, OPENING_FLOAT),
    )

    open_session.refresh_from_db()
    assert (open_session.counted, open_session.variance) == (OPENING_FLOAT, 0)
    assert list(open_session.counts.values_list("counted_by", "total")) == [
        (agent_a.pk, 140_000),
        (supervisor_a.pk, OPENING_FLOAT),
    ]
    assert balance(over_short_account(branch_a)) == 0
    assert balance(vault_account(branch_a)) == VAULT_START


def test_rejecting_a_close_returns_the_session_to_open(
    open_session, agent_a, supervisor_a, denominations
):
    request = submit_count(agent_a, open_session, counts_for(denominations, 1_000))

    services.request_decide(
        request=request, supervisor=supervisor_a, approve=False, reason="Count again"
    )

    assert status_of(open_session) == SessionStatus.OPEN
    assert balance(open_session.account) == OPENING_FLOAT
    drop(agent_a, open_session, 1_000)
    second = submit_count(agent_a, open_session, counts_for(denominations, OPENING_FLOAT - 1_000))
    services.request_decide(request=second, supervisor=supervisor_a, approve=True)
    open_session.refresh_from_db()
    assert (open_session.status, open_session.variance) == (SessionStatus.CLOSED, 0)


def test_a_closed_session_frees_the_counter_and_the_agent(
    open_session, agent_a, supervisor_a, counter_a, denominations
):
    request = submit_count(agent_a, open_session, counts_for(denominations, OPENING_FLOAT))
    services.request_decide(request=request, supervisor=supervisor_a, approve=True)

    again = request_open(agent_a, counter_a)

    assert again.pk != open_session.pk
    assert again.account_id != open_session.account_id
    assert status_of(again) == SessionStatus.REQUESTED


# --- Till limit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance_", "state"),
    [
        (0, "normal"),
        (3_999_999, "normal"),
        (4_000_000, "warning"),
        (5_000_000, "warning"),
        (5_000_001, "over"),
    ],
)
def test_till_state_warns_from_80_percent_and_is_over_above_the_limit(balance_, state):
    assert services.till_state(balance=balance_, limit=5_000_000) == state


def test_till_state_rounds_nothing_away_on_an_odd_limit():
    # 80% of 7 is 5.6: 5 is below it, 6 above.
    assert services.till_state(balance=5, limit=7) == "normal"
    assert services.till_state(balance=6, limit=7) == "warning"
    assert services.till_state(balance=7, limit=7) == "warning"
    assert services.till_state(balance=8, limit=7) == "over"


def test_cash_intake_is_refused_only_above_the_till_limit(
    open_session, agent_a, supervisor_a, branch_a
):
    branch_a.till_cash_limit = OPENING_FLOAT
    branch_a.save(update_fields=["till_cash_limit"])
    session = TillSession.objects.select_related("branch", "account").get(pk=open_session.pk)
    services.ensure_cash_intake_allowed(session)  # exactly at the limit

    services.request_decide(
        request=top_up(agent_a, open_session, 1), supervisor=supervisor_a, approve=True
    )

    session = TillSession.objects.select_related("branch", "account").get(pk=open_session.pk)
    with pytest.raises(TillOverLimit):
        services.ensure_cash_intake_allowed(session)


# --- Four eyes in the database ----------------------------------------------------------------


def test_the_database_refuses_a_decision_by_the_requester(agent_a, counter_a, funded_vault):
    request = opening_request(request_open(agent_a, counter_a))

    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(
            request=request, approved=True, requested_by=agent_a, decided_by=agent_a
        )

    assert not Decision.objects.exists()
