"""A paid service or agency keeps its code and agency: a change is a new service (issue 12, 14).

Settlement and the reports read what each payment line credited, so an edit
could no longer move money; but the catalog would then say something else
than the payments, receipts and settlement files. So the admin shows these
fields read-only once a payment used them, and the models' clean refuses
the change.
"""

import importlib
import uuid

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils.translation import override

from counter.models import Agency, PaymentLine, Service
from counter.services import payments

fill_from_ledger = importlib.import_module(
    "counter.migrations.0003_payment_lines_credited"
).fill_from_ledger


@pytest.fixture
def staff(client, head_office):
    """Head office in the admin (staff and superuser, as the demo seeds it)."""
    head_office.is_staff = head_office.is_superuser = True
    head_office.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(head_office)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def treasury(db):
    return Agency.objects.create(code="TREASURY", name_ar="الخزانة", name_en="Treasury")


@pytest.fixture
def paid(agent_a, fixed_service, citizen, open_till):
    """LIC-RENEW (LOCAL) paid once."""
    return payments.payment_post_cash(
        agent=agent_a,
        service=fixed_service,
        citizen=citizen,
        amount=None,
        references={"licence": "123456"},
        tendered=10_000,
        idempotency_key=uuid.uuid4().hex,
    )


def _form_data(page) -> dict:
    """What the change page would post back unchanged: the form and its inlines."""
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            data[field.html_name] = "on" if value is True else value
    return data


def _service_url(service: Service) -> str:
    return reverse("admin:counter_service_change", args=[service.pk])


def test_a_paid_services_code_and_agency_are_read_only_with_the_reason(staff, paid, fixed_service):
    page = staff.get(_service_url(fixed_service))

    assert page.status_code == 200
    form = page.context["adminform"].form
    assert "code" not in form.fields and "agency" not in form.fields
    assert "name_en" in form.fields  # the rest is still edited in place
    messages = [str(m) for m in page.context["messages"]]
    assert any("create a new service" in m for m in messages), messages


def test_posting_a_new_code_and_agency_for_a_paid_service_changes_neither(
    staff, paid, fixed_service, treasury
):
    url = _service_url(fixed_service)
    data = _form_data(staff.get(url)) | {
        "code": "LIC-RENEW-2",
        "agency": treasury.pk,
        "name_en": "Licence renewal (new name)",
    }

    response = staff.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    fixed_service.refresh_from_db()
    assert (fixed_service.code, fixed_service.agency.code) == ("LIC-RENEW", "LOCAL")
    assert fixed_service.name_en == "Licence renewal (new name)"


def test_a_service_nobody_paid_for_is_still_edited_in_place(staff, fixed_service, treasury):
    url = _service_url(fixed_service)
    data = _form_data(staff.get(url)) | {"code": "LIC-RENEW-2", "agency": treasury.pk}

    response = staff.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    fixed_service.refresh_from_db()
    assert (fixed_service.code, fixed_service.agency) == ("LIC-RENEW-2", treasury)


def test_a_paid_agencys_code_is_read_only_and_a_posted_code_is_ignored(staff, paid, agency):
    url = reverse("admin:counter_agency_change", args=[agency.pk])
    page = staff.get(url)
    assert "code" not in page.context["adminform"].form.fields
    assert any("add a new agency" in str(m) for m in page.context["messages"])

    response = staff.post(url, _form_data(page) | {"code": "LOCAL-2", "name_en": "Local council"})

    assert response.status_code == 302
    agency.refresh_from_db()
    assert (agency.code, agency.name_en) == ("LOCAL", "Local council")


def test_an_agency_nobody_was_paid_through_keeps_an_editable_code(staff, treasury):
    url = reverse("admin:counter_agency_change", args=[treasury.pk])
    page = staff.get(url)
    assert "code" in page.context["adminform"].form.fields

    assert staff.post(url, _form_data(page) | {"code": "MOF"}).status_code == 302
    treasury.refresh_from_db()
    assert treasury.code == "MOF"


def test_the_models_refuse_to_change_a_paid_code_or_agency(paid, fixed_service, agency, treasury):
    fixed_service.agency = treasury
    fixed_service.code = "LIC-RENEW-2"
    with override("en"), pytest.raises(ValidationError) as refused:
        fixed_service.full_clean()
    assert set(refused.value.message_dict) == {"code", "agency"}
    assert "new service" in refused.value.message_dict["agency"][0]

    agency.code = "LOCAL-2"
    with pytest.raises(ValidationError) as refused:
        agency.full_clean()
    assert set(refused.value.message_dict) == {"code"}

    agency.code = "LOCAL"
    agency.name_en = "Local council"
    agency.full_clean()  # names may still be corrected


# --- The migration that filled the lines of existing payments ----------------------------------


def test_existing_lines_are_filled_from_the_ledger_not_from_todays_catalog(
    paid, fixed_service, agency, treasury
):
    expected = {
        line.pk: (line.agency_id, line.account_id, line.service_code) for line in paid.lines.all()
    }
    assert len(expected) == 3
    # Today's catalog says something else; the lines have lost what they credited.
    Service.objects.filter(pk=fixed_service.pk).update(code="RENAMED", agency=treasury)
    PaymentLine.objects.update(agency=treasury, account=paid.transfer.entries.first().account)
    PaymentLine.objects.update(service_code="?")

    fill_from_ledger(apps, connection.schema_editor())

    assert {
        line.pk: (line.agency_id, line.account_id, line.service_code)
        for line in PaymentLine.objects.all()
    } == expected
    commission = paid.lines.get(component__code="commission")
    assert commission.agency_id is None
    assert {line.agency_id for line in paid.lines.exclude(pk=commission.pk)} == {agency.pk}
