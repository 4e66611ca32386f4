"""Registering citizens and linking their mobile number with an SMS one-time code.

Codes are kept as a keyed hash (HMAC-SHA256 under SECRET_KEY, with a random
salt of the challenge's own): a six-digit code has only a million values, so
an unkeyed hash, however slow (make_password), is reversed from a database
dump in minutes; without the key the dump alone reveals nothing. The hash is
fast, which is right here: guessing is limited by the five tries per code,
not by the cost of hashing, and verifying adds no half-second to the counter.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from agents.models import Governorate
from agents.permissions import Action, can, scope_of
from audit import log as audit_log
from audit.models import AuditEntry
from core.digits import normalize_digits
from core.errors import DomainError, NotAllowed
from core.retry import retry_on_conflict
from counter import signals
from counter.models import Citizen, OtpChallenge
from counter.nationalid import parse_national_id
from counter.phones import parse_egyptian_mobile
from counter.sms import send_sms

if TYPE_CHECKING:
    from django.contrib.auth.models import User

OTP_DIGITS = 6
OTP_VALIDITY = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_INTERVAL = timedelta(seconds=60)
OTP_HOURLY_LIMIT = 5  # codes per mobile number per hour
_HOUR = timedelta(hours=1)
_HASH_ALGORITHM = "sha256"

# The citizen's language is unknown and not the agent's: every SMS carries both.
_SMS_BODY = (
    "رمز التحقق من مكتب البريد: {code}\n"
    "صالح لمدة {minutes} دقائق. لا تعطه لأحد غير موظف الشباك.\n"
    "Post office verification code: {code}\n"
    "Valid for {minutes} minutes. Give it only to the counter clerk."
)

# Arabic letters (with the extended ones some keyboards type), tatweel and
# diacritics, spaces and the punctuation of compound names; no digits.
_ARABIC_NAME = re.compile(r"[\u0621-\u063A\u0640-\u0652\u0670-\u06D3\s.'\-]+")
_ARABIC_LETTER = re.compile(r"[\u0621-\u063A\u0641-\u064A\u0671-\u06D3]")
_LATIN_NAME = re.compile(r"[A-Za-z\s.'\-]+")
_NAME_MAX = 150


class OtpThrottled(DomainError):
    """Too many codes to one number; the message says how long to wait."""


class OtpWrong(DomainError):
    """The code typed is not the one sent."""


class OtpExpired(DomainError):
    """The code was right-looking but its five minutes are over."""


class OtpUnavailable(DomainError):
    """No code is waiting: none was sent, or it was used up by wrong tries."""


class CitizenReadsExhausted(DomainError):
    """The agent opened CITIZEN_READS_PER_HOUR different citizens in the last hour."""


def _require_agent(agent: User) -> None:
    if not can(agent, Action.OPERATE_COUNTER):
        raise NotAllowed(_("Only a counter agent registers citizens and sends them codes."))


# --- Registration ------------------------------------------------------------------


def _clean_name_ar(text: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise ValidationError(_("Type the citizen's full name in Arabic."), code="required")
    if len(name) > _NAME_MAX:
        raise ValidationError(_("The name is too long."), code="max_length")
    if not _ARABIC_NAME.fullmatch(name) or not _ARABIC_LETTER.search(name):
        raise ValidationError(
            _("Write the name in Arabic letters, as on the ID card."), code="not_arabic"
        )
    return name


def _clean_name_en(text: str) -> str:
    name = " ".join((text or "").split())
    if len(name) > _NAME_MAX:
        raise ValidationError(_("The name is too long."), code="max_length")
    if name and not _LATIN_NAME.fullmatch(name):
        raise ValidationError(_("Write the English name in Latin letters."), code="not_latin")
    return name


def _citizen_with(national_id: str) -> Citizen | None:
    return Citizen.objects.filter(national_id=national_id).first()


@retry_on_conflict
def citizen_register(
    *,
    agent: User,
    national_id: str,
    name_ar: str,
    name_en: str,
    mobile: str,
    consent: bool,
) -> tuple[Citizen, bool]:
    """The citizen with this national ID, registered now (True) or found as they were (False).

    A new citizen is sent a code to `mobile`; their mobile is linked only once
    the code comes back (otp_verify). Bad input raises a ValidationError whose
    keys are the argument names, so a form shows each message by its field.
    """
    _require_agent(agent)
    errors: dict[str, ValidationError] = {}
    with transaction.atomic():
        try:
            parsed = parse_national_id(national_id)
        except ValidationError as error:
            errors["national_id"] = error
            parsed = None
        if parsed is not None:
            existing = _citizen_with(parsed.number)
            if existing is not None:
                return existing, False
        cleaned: dict[str, str] = {}
        for field, clean, value in [
            ("name_ar", _clean_name_ar, name_ar),
            ("name_en", _clean_name_en, name_en),
            ("mobile", parse_egyptian_mobile, mobile),
        ]:
            try:
                cleaned[field] = clean(value)
            except ValidationError as error:
                errors[field] = error
        if not consent:
            errors["consent"] = ValidationError(
                _("The citizen must agree before they are registered."), code="consent"
            )
        if errors:
            raise ValidationError(errors)

        governorate = Governorate.objects.filter(code=parsed.governorate_code).first()
        if governorate is None:
            raise ValidationError(
                {"national_id": _("Digits 8 and 9 of the national ID are not a governorate code.")}
            )
        now = timezone.now()
        try:
            # A savepoint: if another counter registers the same ID at the same
            # moment, the unique index refuses this insert and we return theirs.
            with transaction.atomic():
                citizen = Citizen.objects.create(
                    national_id=parsed.number,
                    birth_date=parsed.birth_date,
                    governorate=governorate,
                    sex=parsed.sex,
                    name_ar=cleaned["name_ar"],
                    name_en=cleaned["name_en"],
                    consent_at=now,
                    registered_by=agent,
                    registered_at=now,
                    registered_branch_id=scope_of(agent).branch_id,
                )
        except IntegrityError:
            existing = _citizen_with(parsed.number)
            if existing is None:
                raise
            return existing, False
        try:
            otp_send(agent=agent, citizen=citizen, mobile=cleaned["mobile"])
        except OtpThrottled as error:
            # No code, no registration: the agent tries again later or another number.
            raise ValidationError({"mobile": str(error)}) from error
        transaction.on_commit(
            lambda: signals.citizen_registered.send_robust(sender=Citizen, citizen=citizen)
        )
        return citizen, True


# --- Reading a citizen's record ------------------------------------------------------

READ_WINDOW = timedelta(hours=1)
READ_VIA = ("search", "page")


def _recent_reads(agent: User, stream: str, since: datetime) -> dict[int, datetime]:
    """Each citizen `agent` read since `since`, with the last time they read them."""
    rows = (
        # actor_username first: the (actor_username, at) index finds one person's last
        # hour at once; the stream (the person's id) keeps the count exact.
        AuditEntry.objects.filter(
            actor_username=agent.get_username(),
            at__gte=since,
            stream=stream,
            action="citizen.read",
        )
        .order_by()
        .values("data__citizen")
        .annotate(last=Max("at"))
    )
    return {row["data__citizen"]: row["last"] for row in rows}


@retry_on_conflict
def citizen_read(*, agent: User, citizens: Sequence[Citizen], via: str) -> None:
    """Record that `agent` reads these citizens' records; refuse past the hourly limit.

    Each citizen read is an audit entry ("citizen.read") in the agent's own
    stream. The limit counts the different citizens of those entries in the
    last hour, so reading a citizen again (their page after the search that
    found them) costs nothing more. The count comes from the audit log, not
    from the cache: it is exact, and a Redis outage cannot open the registry
    (the cache wrapper acts empty when Redis is down, which would count zero).
    A refusal shows nothing and is recorded too ("citizen.read_refused").
    """
    _require_agent(agent)
    assert via in READ_VIA, via
    if not citizens:
        return
    limit = settings.CITIZEN_READS_PER_HOUR
    stream = audit_log.user_stream(agent.pk)
    branch_id = scope_of(agent).branch_id
    failure: DomainError | None = None
    with transaction.atomic():
        # The head before the count: a read this agent's other request appends after
        # this point takes our sequence number, so our insert fails and the whole
        # count runs again (retry_on_conflict). Two tabs cannot both take the last read.
        head = audit_log.head_of(stream)
        now = timezone.now()
        read = _recent_reads(agent, stream, since=now - READ_WINDOW)
        new = [citizen.pk for citizen in citizens if citizen.pk not in read]
        if len(read) + len(set(new)) > limit:
            audit_log.append(
                stream=stream,
                action="citizen.read_refused",
                actor=agent,
                object_type="citizen",
                object_id=new[0],
                branch=branch_id,
                data={"citizens": new, "via": via, "limit": limit},
                head=head,
            )
            # A slot frees when the citizen read longest ago leaves the hour.
            wait = min(read.values(), default=now) + READ_WINDOW - now
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            failure = CitizenReadsExhausted(
                ngettext(
                    "You opened the records of %(limit)d different citizens in the last hour, "
                    "the most allowed. Try again in %(minutes)d minute.",
                    "You opened the records of %(limit)d different citizens in the last hour, "
                    "the most allowed. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"limit": limit, "minutes": minutes}
            )
        else:
            for citizen in citizens:
                entry = audit_log.append(
                    stream=stream,
                    action="citizen.read",
                    actor=agent,
                    object_type="citizen",
                    object_id=citizen.pk,
                    branch=branch_id,
                    data={"citizen": citizen.pk, "via": via},
                    head=head,
                )
                head = audit_log.Head(stream, entry.seq, entry.hash)
    # Outside the block, so the refusal's record is committed.
    if failure is not None:
        raise failure


# --- One-time codes ----------------------------------------------------------------


def _code_hash(*, code: str, mobile: str, salt: str) -> str:
    digest = salted_hmac(
        f"counter.otp.{salt}", f"{mobile}:{code}", algorithm=_HASH_ALGORITHM
    ).hexdigest()
    return f"hmac-{_HASH_ALGORITHM}${salt}${digest}"


def _code_matches(challenge: OtpChallenge, code: str) -> bool:
    try:
        _algorithm, salt, _digest = challenge.code_hash.split("$")
    except ValueError:
        return False
    expected = _code_hash(code=code, mobile=challenge.mobile, salt=salt)
    return constant_time_compare(expected, challenge.code_hash)


def _throttle(mobile: str, now: datetime) -> None:
    """Refuse a code to `mobile` within a minute of the last one, or past five in an hour."""
    recent = list(
        OtpChallenge.objects.filter(mobile=mobile, created_at__gt=now - _HOUR)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:OTP_HOURLY_LIMIT]
    )
    if recent and now - recent[0] < OTP_RESEND_INTERVAL:
        seconds = max(1, math.ceil((recent[0] + OTP_RESEND_INTERVAL - now).total_seconds()))
        raise OtpThrottled(
            ngettext(
                "A code was just sent to this number. Wait %(seconds)d second before sending "
                "another.",
                "A code was just sent to this number. Wait %(seconds)d seconds before sending "
                "another.",
                seconds,
            )
            % {"seconds": seconds}
        )
    if len(recent) >= OTP_HOURLY_LIMIT:
        # The oldest of the last five leaves the hour first.
        minutes = max(1, math.ceil((recent[-1] + _HOUR - now).total_seconds() / 60))
        raise OtpThrottled(
            ngettext(
                "%(limit)d codes were sent to this number in the last hour. Try again in "
                "%(minutes)d minute.",
                "%(limit)d codes were sent to this number in the last hour. Try again in "
                "%(minutes)d minutes.",
                minutes,
            )
            % {"limit": OTP_HOURLY_LIMIT, "minutes": minutes}
        )


@retry_on_conflict
def otp_send(*, agent: User, citizen: Citizen, mobile: str | None = None) -> OtpChallenge:
    """Send the citizen a new code for `mobile` (default: the number being verified).

    A new code replaces the citizen's earlier codes that were not used.
    """
    _require_agent(agent)
    with transaction.atomic():
        # Two sends for one citizen queue here, so each sees the other's code.
        locked = Citizen.objects.select_for_update().get(pk=citizen.pk)
        if mobile:
            try:
                number = parse_egyptian_mobile(mobile)
            except ValidationError as error:
                raise ValidationError({"mobile": error}) from None
        else:
            latest = locked.challenges.order_by("-created_at", "-pk").first()
            number = locked.mobile or (latest.mobile if latest else "")
            if not number:
                raise ValidationError({"mobile": _("Type the citizen's mobile number.")})
        now = timezone.now()
        _throttle(number, now)
        locked.challenges.filter(verified_at__isnull=True, burned=False).update(burned=True)
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        challenge = OtpChallenge.objects.create(
            citizen=locked,
            mobile=number,
            code_hash=_code_hash(code=code, mobile=number, salt=get_random_string(12)),
            created_at=now,
            expires_at=now + OTP_VALIDITY,
            sent_by=agent,
        )
        minutes = int(OTP_VALIDITY.total_seconds() // 60)
        send_sms(to=number, body=_SMS_BODY.format(code=code, minutes=minutes))
    return challenge


def otp_send_to_bound_mobile(*, agent: User, citizen: Citizen) -> OtpChallenge:
    """Send a code to the mobile already linked to the citizen: their proof that it is them."""
    if not (citizen.mobile and citizen.mobile_verified_at):
        raise OtpUnavailable(
            _("This citizen has no verified mobile: link one on the citizen's page first.")
        )
    return otp_send(agent=agent, citizen=citizen, mobile=citizen.mobile)


@retry_on_conflict
def otp_confirm(*, agent: User, citizen: Citizen, code: str) -> None:
    """The citizen proves it is them with the code sent to their linked mobile.

    Only a code sent to the mobile already linked counts: a code to any other
    number (one the agent typed) proves nothing. Wrong codes count as in otp_verify.
    """
    if not (citizen.mobile and citizen.mobile_verified_at):
        raise OtpUnavailable(
            _("This citizen has no verified mobile: link one on the citizen's page first.")
        )
    _otp_take(agent=agent, citizen=citizen, code=code, mobile=citizen.mobile)


@retry_on_conflict
def otp_verify(*, agent: User, citizen: Citizen, code: str) -> Citizen:
    """Link the citizen to the mobile their latest code went to, if `code` is that code.

    A wrong code counts against the challenge, and that count is committed
    even though the call then raises: five wrong codes burn it.
    """
    return _otp_take(agent=agent, citizen=citizen, code=code, mobile=None)


def _otp_take(*, agent: User, citizen: Citizen, code: str, mobile: str | None) -> Citizen:
    """Use the citizen's latest code; link its mobile unless `mobile` (a proof) is given."""
    _require_agent(agent)
    typed = re.sub(r"[\s\-]", "", normalize_digits(code or ""))
    if not re.fullmatch(rf"[0-9]{{{OTP_DIGITS}}}", typed):
        raise OtpWrong(_("The code has %(digits)d digits.") % {"digits": OTP_DIGITS})
    failure: DomainError
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(citizen=citizen)
            .order_by("-created_at", "-pk")
            .first()
        )
        now = timezone.now()
        if challenge is None or (mobile is not None and challenge.mobile != mobile):
            failure = OtpUnavailable(_("No code was sent to this citizen. Send a code first."))
        elif challenge.verified_at is not None:
            if challenge.expires_at > now and _code_matches(challenge, typed):
                # The same right code twice (a double submit): already done.
                return Citizen.objects.get(pk=citizen.pk)
            failure = OtpUnavailable(_("No code is waiting for this citizen. Send a new code."))
        elif challenge.burned:
            failure = OtpUnavailable(
                _("This code no longer works after too many wrong tries. Send a new code.")
            )
        elif challenge.expires_at <= now:
            failure = OtpExpired(_("The code has expired. Send a new code."))
        elif not _code_matches(challenge, typed):
            challenge.attempts += 1
            challenge.burned = challenge.attempts >= OTP_MAX_ATTEMPTS
            challenge.save(update_fields=["attempts", "burned"])
            left = OTP_MAX_ATTEMPTS - challenge.attempts
            if left:
                message = ngettext(
                    "Wrong code. %(left)d try left.", "Wrong code. %(left)d tries left.", left
                ) % {"left": left}
            else:
                message = _(
                    "Wrong code, %(limit)d times: this code no longer works. Send a new code."
                ) % {"limit": OTP_MAX_ATTEMPTS}
            failure = OtpWrong(message)
        else:
            challenge.verified_at = now
            challenge.save(update_fields=["verified_at"])
            if mobile is not None:
                return citizen
            citizen.mobile = challenge.mobile
            citizen.mobile_verified_at = now
            citizen.save(update_fields=["mobile", "mobile_verified_at"])
            return citizen
    # Outside the block, so the counted attempt is committed before the refusal.
    raise failure
