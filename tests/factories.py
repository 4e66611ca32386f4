"""factory_boy factories for the network and its people."""

import factory
from django.contrib.auth import get_user_model

from agents.models import Branch, Counter, Governorate, Profile, Role


def governorate(code: str) -> Governorate:
    """Governorates come from a data migration; transactional tests flush them, so re-create."""
    from agents.governorates import BORN_ABROAD, GOVERNORATES

    _, name_ar, name_en = next(g for g in [*GOVERNORATES, BORN_ABROAD] if g[0] == code)
    gov, _ = Governorate.objects.get_or_create(
        code=code, defaults={"name_ar": name_ar, "name_en": name_en, "abroad": code == "88"}
    )
    return gov


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"T{n:05d}")
    name_ar = factory.Sequence(lambda n: f"مكتب بريد تجريبي {n}")
    name_en = factory.Sequence(lambda n: f"Test Post Office {n}")
    governorate = factory.LazyFunction(lambda: governorate("01"))
    till_cash_limit = 5_000_000


class CounterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Counter

    branch = factory.SubFactory(BranchFactory)
    number = factory.Sequence(lambda n: n + 1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "سامي"
    last_name = "التجريبي"
    password = factory.django.Password("pass-for-tests")


def person(username: str, role: Role, *, branch=None, governorate=None):
    user = UserFactory(username=username)
    Profile.objects.create(user=user, role=role, branch=branch, governorate=governorate)
    return user


def fund_vault(*, branch, supervisor, witness, amount: int) -> None:
    """Cash from the bank into `branch`'s vault: recorded by the supervisor, confirmed by the
    witness (nothing posts before the witness confirms)."""
    import uuid

    from float_management import services

    services.vault_move_confirm(
        witness=witness,
        movement=services.vault_move(
            branch=branch,
            direction="in",
            amount=amount,
            handled_by=supervisor,
            witnessed_by=witness,
            idempotency_key=uuid.uuid4().hex,
        ),
    )


def wallet_qr(agent, service, citizen=None, *, references=None):
    """A wallet QR shown at `agent`'s open till for a fixed-fee `service` (licence 123456)."""
    import uuid

    from wallet.services import intent_open

    return intent_open(
        agent=agent,
        service=service,
        citizen=citizen,
        amount=None,
        references=references if references is not None else {"licence": "123456"},
        method="wallet",
        tender={},
        idempotency_key=uuid.uuid4().hex,
    )
