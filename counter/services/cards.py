"""Prepaid service cards: issue, top up with cash, check the PIN, block and replace, unlock.

PINs are kept as a keyed hash (HMAC-SHA256 under SECRET_KEY with a random salt
per card), like the SMS codes: a four-digit PIN has ten thousand values, so a
slow unkeyed hash (make_password's PBKDF2, about half a second of CPU per
check) protects nothing against a database dump yet costs every card payment
that half second; the key does protect it, and guessing at the counter is
limited by the lockout after CARD_PIN_TRIES wrong tries. Cards issued with a
PBKDF2 hash (before this change) are still checked with check_password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac
from django.utils.translation import gettext as _

from agents.permissions import Action, can, scope_of
from audit import log as audit_log
from core.clock import start_of_today
from core.digits import normalize_digits
from core.errors import InvalidAmount, InvalidState, NotAllowed
from core.money import format_amount
from core.retry import retry_on_conflict
from counter import signals as counter_signals
from counter.checkdigit import luhn_valid, new_reference, random_with_check_digit
from counter.errors import CardUnusable, WrongPin
from counter.models import Citizen, PrepaidCard, TopUp
from counter.selectors.cards import card_live_replacement
from counter.selectors.cards import (  # a read, still reachable from here for its callers
    card_pending_move as card_pending_move,
)
from float_management import services as till
from float_management import signals
from float_management.idempotency import run_once
from float_management.ledger import account_for, check_amount, transfer_post
from float_management.models import (
    AccountKind,
    Request,
    RequestKind,
    TillSession,
    Transfer,
    TransferKind,
)
from float_management.services import APPROVAL_HANDLERS

if TYPE_CHECKING:
    from django.contrib.auth.models import User


CARD_PREFIX = "6280"  # an invented issuer prefix for the network's service cards
_PIN_HASH = "hmac-sha256"


def pin_hash(pin: str, *, salt: str | None = None, secret: str | None = None) -> str:
    salt = salt or get_random_string(16)
    digest = salted_hmac(
        f"counter.card.pin.{salt}", pin, secret=secret, algorithm="sha256"
    ).hexdigest()
    return f"{_PIN_HASH}${salt}${digest}"


def pin_matches(pin: str, stored: str) -> str | None:
    """None if `pin` is wrong; else "current", or "stale" when the hash should be redone
    (PBKDF2 from before keyed hashes, or made under a key now in SECRET_KEY_FALLBACKS)."""
    if not stored.startswith(_PIN_HASH + "$"):
        return "stale" if check_password(pin, stored) else None
    _algorithm, salt, _digest = stored.split("$")
    if constant_time_compare(pin_hash(pin, salt=salt), stored):
        return "current"
    for old in settings.SECRET_KEY_FALLBACKS:  # a rotated key keeps every card usable
        if constant_time_compare(pin_hash(pin, salt=salt, secret=old), stored):
            return "stale"
    return None


def normalize_card_number(text: str) -> str:
    number = normalize_digits(str(text)).replace(" ", "").replace("-", "")
    if len(number) != 16 or not number.isdigit() or not luhn_valid(number):
        raise CardUnusable(_("That is not a valid card number: check the 16 digits."))
    return number


def _check_pin_format(pin: str) -> str:
    pin = normalize_digits(str(pin)).strip()
    if len(pin) != 4 or not (pin.isascii() and pin.isdigit()):
        raise InvalidAmount(_("The PIN is 4 digits."))
    return pin


def _new_card(*, agent: User, citizen: Citizen, pin: str) -> PrepaidCard:
    for _attempt in range(5):
        number = random_with_check_digit(16, CARD_PREFIX)
        try:
            with transaction.atomic():
                account = account_for(AccountKind.CARD, f"card:{number}")
                return PrepaidCard.objects.create(
                    number=number,
                    citizen=citizen,
                    account=account,
                    pin_hash=pin_hash(pin),
                    issued_by=agent,
                    issued_branch_id=scope_of(agent).branch_id,
                )
        except IntegrityError:  # the random number was taken: draw again
            continue
    raise InvalidState(_("Could not issue a card number; try again."))


@retry_on_conflict
def card_issue(*, agent: User, citizen: Citizen, pin: str, idempotency_key: str) -> PrepaidCard:
    """A new card for a registered citizen, with a zero balance and a hashed PIN."""
    pin = _check_pin_format(pin)
    if not can(agent, Action.OPERATE_COUNTER):
        raise NotAllowed(_("Only counter agents issue cards."))

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="card_issue",
            # The PIN is not part of the fingerprint: it must never be stored, even hashed here.
            payload={"agent": agent.pk, "citizen": citizen.pk},
            work=lambda: _new_card(agent=agent, citizen=citizen, pin=pin),
            load=lambda pk: PrepaidCard.objects.get(pk=pk),
        )


def _card_locked(card_number: str) -> PrepaidCard:
    """The card and its balance account, locked for this transaction."""
    card = (
        PrepaidCard.objects.select_for_update(of=("self", "account"))
        .select_related("account", "citizen")
        .filter(number=normalize_card_number(card_number))
        .first()
    )
    if card is None:
        raise CardUnusable(_("No card has that number."))
    return card


def card_usable_locked(card_number: str) -> PrepaidCard:
    """The card, locked for this transaction, if it can be spent from."""
    card = _card_locked(card_number)
    if card.status != PrepaidCard.Status.ACTIVE:
        raise CardUnusable(_("This card is blocked."))
    if card.is_locked:
        raise CardUnusable(_("This card is locked after wrong PINs; a supervisor can unlock it."))
    return card


def card_check_pin(*, card_number: str, pin: str, branch_id: int | None = None) -> None:
    """Check the PIN in a transaction of its own, so a wrong try is counted even when the
    payment that asked fails; the card locks after CARD_PIN_TRIES wrong tries."""
    wrong = False
    with transaction.atomic():
        card = card_usable_locked(card_number)
        pin = normalize_digits(str(pin)).strip()
        match = pin_matches(pin, card.pin_hash)
        if match:
            card.pin_accepted(new_pin_hash=pin_hash(pin) if match == "stale" else None)
            return
        wrong = True
        left = card.pin_refused(tries=settings.CARD_PIN_TRIES, branch_id=branch_id)
        if card.is_locked:
            transaction.on_commit(
                lambda: counter_signals.card_locked.send_robust(sender=PrepaidCard, card=card)
            )
    if wrong:
        if left <= 0:
            raise WrongPin(_("Wrong PIN. The card is now locked; a supervisor can unlock it."))
        raise WrongPin(_("Wrong PIN. %(left)s tries left.") % {"left": left})


def _today_top_ups(card: PrepaidCard) -> int:
    start = start_of_today()
    return (
        TopUp.objects.filter(card=card, created_at__gte=start).aggregate(s=Sum("amount"))["s"] or 0
    )


@retry_on_conflict
def card_top_up(*, agent: User, card_number: str, amount: int, idempotency_key: str) -> TopUp:
    """Cash into the till and onto the card, within the card's maximum and daily limits."""
    check_amount(amount)

    def work() -> TopUp:
        session = till.till_session_open_locked(agent)
        till.ensure_cash_intake_allowed(session)
        card = _card_locked(card_number)
        if card.status != PrepaidCard.Status.ACTIVE:
            raise CardUnusable(_("This card is blocked."))
        if card.account.balance + amount > settings.CARD_MAX_BALANCE:
            raise InvalidAmount(
                _("A card holds at most %(max)s EGP.")
                % {"max": format_amount(settings.CARD_MAX_BALANCE)}
            )
        if _today_top_ups(card) + amount > settings.CARD_DAILY_TOP_UP_LIMIT:
            raise InvalidAmount(
                _("Top-ups are limited to %(max)s EGP a day per card.")
                % {"max": format_amount(settings.CARD_DAILY_TOP_UP_LIMIT)}
            )
        transfer = transfer_post(
            kind=TransferKind.TOP_UP,
            legs=[(session.account, amount), (card.account, -amount)],
            created_by=agent,
            branch=session.branch,
            memo=card.masked_number,
            session=session,
        )
        return TopUp.objects.create(
            reference=new_reference(),
            card=card,
            session=session,
            branch=session.branch,
            agent=agent,
            amount=amount,
            balance_after=card.account.balance + amount,
            transfer=transfer,
        )

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="card_top_up",
            payload={"agent": agent.pk, "card": card_number, "amount": amount},
            work=work,
            load=lambda pk: TopUp.objects.get(pk=pk),
        )


def _check_citizen_proof(
    *, agent: User, card: PrepaidCard, proof_pin: str, proof_code: str
) -> None:
    """The card's holder proves it is them: the card's PIN, or a code to their linked mobile.

    Each wrong try is counted (and committed) as at a payment: wrong PINs lock the card,
    wrong codes burn the code.
    """
    from counter.services.citizens import otp_confirm

    if proof_code:
        otp_confirm(agent=agent, citizen=card.citizen, code=proof_code)
    elif proof_pin:
        card_check_pin(card_number=card.number, pin=proof_pin, branch_id=scope_of(agent).branch_id)
    else:
        raise WrongPin(
            _(
                "The citizen must prove it is them: the lost card's PIN, or the code sent to "
                "their mobile."
            )
        )


def _raise_card_move(
    *, agent: User, session: TillSession, old: PrepaidCard, new: PrepaidCard
) -> Request | None:
    """Ask a supervisor to move the blocked card's balance to its replacement (four eyes)."""
    balance = old.account.balance
    if balance <= 0:
        return None
    request = Request.objects.create(
        kind=RequestKind.CARD_MOVE,
        branch=session.branch,
        session=session,
        amount=balance,
        reason=f"{old.masked_number} → {new.masked_number}",
        subject_id=old.pk,
        requested_by=agent,
    )
    transaction.on_commit(
        lambda: signals.request_raised.send_robust(sender=Request, request=request)
    )
    return request


@retry_on_conflict
def card_replace(
    *,
    agent: User,
    card_number: str,
    new_pin: str,
    proof_pin: str = "",
    proof_code: str = "",
    idempotency_key: str,
) -> PrepaidCard:
    """Block a lost card, issue its replacement, and ask a supervisor to move the balance.

    Money leaves the citizen's card, so it needs the citizen's proof (the old PIN
    or a code to their linked mobile) and a second person: the new card starts
    empty and the balance moves when a supervisor of the branch approves. A card
    blocked earlier whose move was refused can be asked again (same proof).
    """
    new_pin = _check_pin_format(new_pin)
    if not can(agent, Action.OPERATE_COUNTER):
        raise NotAllowed(_("Only counter agents replace cards."))
    with transaction.atomic():
        card = _card_locked(card_number)
    active = card.status == PrepaidCard.Status.ACTIVE
    if not active and not proof_code:  # a blocked card's PIN proves nothing any more
        raise WrongPin(_("This card is blocked: the citizen proves it is them with a code."))
    _check_citizen_proof(
        agent=agent, card=card, proof_pin=proof_pin if active else "", proof_code=proof_code
    )

    def work() -> PrepaidCard:
        session = till.till_session_open_locked(agent)
        old = _card_locked(card_number)
        if old.status == PrepaidCard.Status.ACTIVE:
            new = _new_card(agent=agent, citizen=old.citizen, pin=new_pin)
            old.block(replaced_by=new)
        else:
            new = card_live_replacement(old.pk)
            if Request.objects.filter(
                kind=RequestKind.CARD_MOVE, subject_id=old.pk, decision__isnull=True
            ).exists():
                raise InvalidState(_("A move of this card's balance is already waiting."))
            if old.account.balance <= 0:
                raise CardUnusable(_("This card is already blocked and holds nothing."))
        move = _raise_card_move(agent=agent, session=session, old=old, new=new)
        audit_log.append(
            stream=audit_log.till_stream(session.pk),
            action="card.replaced",
            actor=agent,
            object_type="card",
            object_id=old.pk,
            branch=session.branch_id,
            data={
                "old": old.masked_number,
                "new": new.masked_number,
                "citizen": old.citizen_id,
                "proof": "code" if proof_code else "pin",
                "move_request": move.pk if move else None,
                "balance": old.account.balance,
            },
        )
        return new

    with transaction.atomic():
        return run_once(
            key=idempotency_key,
            action="card_replace",
            payload={"agent": agent.pk, "card": card_number, "proof": bool(proof_code)},
            work=work,
            load=lambda pk: PrepaidCard.objects.get(pk=pk),
        )


def _approve_card_move(request: Request, supervisor: User, **_kwargs: object) -> Transfer:
    """Move what the blocked card holds now to the card that replaces it."""
    old = (
        PrepaidCard.objects.select_for_update(of=("self", "account"))
        .select_related("account")
        .get(pk=request.subject_id)
    )
    new = card_live_replacement(old.pk)
    balance = old.account.balance
    if old.status != PrepaidCard.Status.BLOCKED or new.pk == old.pk:
        raise InvalidState(_("This card has not been replaced."))
    if balance <= 0:
        raise InvalidState(_("The blocked card holds nothing to move."))
    return transfer_post(
        kind=TransferKind.CARD_MOVE,
        legs=[(old.account, balance), (new.account, -balance)],
        created_by=supervisor,
        memo=f"{old.masked_number} → {new.masked_number}",
        session=request.session,  # locked by request_decide
    )


APPROVAL_HANDLERS[RequestKind.CARD_MOVE] = _approve_card_move


@transaction.atomic
def card_unlock(*, supervisor: User, card_number: str, national_id: str) -> PrepaidCard:
    """A supervisor of the post office where the card locked unlocks it, the holder present.

    The holder shows their national ID card and the supervisor types its number:
    it must be the card holder's. Each unlock gives three more PIN tries, so it is
    audited (and counted on the boards).
    """
    if not can(supervisor, Action.UNLOCK_CARD):
        raise NotAllowed(_("Only a branch supervisor can unlock a card."))
    number = normalize_card_number(card_number)
    card = (
        PrepaidCard.objects.select_for_update(of=("self",))
        .select_related("citizen")
        .filter(number=number)
        .first()
    )
    if card is None:
        raise CardUnusable(_("No card has that number."))
    branch_id = scope_of(supervisor).branch_id
    if (card.locked_branch_id or card.issued_branch_id) != branch_id:
        # Same answer as an unknown number: another post office's cards are not ours to probe.
        raise CardUnusable(_("No card locked at this post office has that number."))
    if not card.is_locked:
        raise InvalidState(_("This card is not locked."))
    typed = normalize_digits(str(national_id)).strip()
    if not constant_time_compare(typed, card.citizen.national_id):
        raise NotAllowed(_("That is not the card holder's national ID: the card stays locked."))
    card.unlock()
    transaction.on_commit(
        lambda: counter_signals.card_unlocked.send_robust(
            sender=PrepaidCard, card=card, branch_id=branch_id
        )
    )
    audit_log.append(
        stream=audit_log.user_stream(supervisor.pk),
        action="card.unlocked",
        actor=supervisor,
        object_type="card",
        object_id=card.pk,
        branch=branch_id,
        data={"card": card.masked_number, "citizen": card.citizen_id},
    )
    return card
