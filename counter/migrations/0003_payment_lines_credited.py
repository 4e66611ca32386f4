"""Each payment line keeps the agency, ledger account and service code it credited.

Existing lines are filled from the ledger, not from today's catalog: the
payment's transfer credited one account per fee component (keys
``payable:<agency>:<service>:<component>:<branch>`` and
``commission:<component>:<branch>``), so each line takes the entry of its
transfer with its own component code and amount. The agency is the one whose
code the account's key names (the agency's code at posting time); only an
agency renamed since is looked up through the catalog. The service code is
the transfer's memo, written at posting time.
"""

import django.db.models.deletion
from django.db import migrations, models

CHUNK = 2_000


def _component_code(key: str) -> str:
    # <kind>:…:<component>:<branch>
    parts = key.rsplit(":", 2)
    return parts[1] if len(parts) == 3 else ""


def _agency_code(key: str) -> str:
    # payable:<agency>:<service>:<component>:<branch>
    return key.removeprefix("payable:").rsplit(":", 3)[0]


def fill_from_ledger(apps, schema_editor):
    Agency = apps.get_model("counter", "Agency")
    Payment = apps.get_model("counter", "Payment")
    PaymentLine = apps.get_model("counter", "PaymentLine")
    Entry = apps.get_model("float_management", "Entry")

    agency_by_code = dict(Agency.objects.values_list("code", "pk"))
    last = 0
    while True:
        payments = list(
            Payment.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "reference", "transfer_id", "transfer__memo")[:CHUNK]
        )
        if not payments:
            break
        last = payments[-1][0]
        credits: dict[int, list[tuple[int, str, str, int]]] = {}
        for transfer_id, account_id, key, kind, amount in Entry.objects.filter(
            transfer_id__in=[p[2] for p in payments], amount__lt=0
        ).values_list("transfer_id", "account_id", "account__key", "account__kind", "amount"):
            credits.setdefault(transfer_id, []).append((account_id, key, kind, -amount))
        lines = list(
            PaymentLine.objects.filter(payment_id__in=[p[0] for p in payments])
            .select_related("component__agency", "payment__service")
            .order_by("payment_id", "pk")
        )
        by_payment = {
            pk: (reference, transfer_id, memo) for pk, reference, transfer_id, memo in payments
        }
        for line in lines:
            reference, transfer_id, memo = by_payment[line.payment_id]
            component = line.component
            is_commission = component.kind == "commission"
            entries = credits.get(transfer_id, [])
            fits = [
                entry
                for entry in entries
                if entry[3] == line.amount and (entry[2] == "commission") == is_commission
            ]
            named = [entry for entry in fits if _component_code(entry[1]) == component.code]
            if not (named or fits):
                raise RuntimeError(
                    f"Payment {reference}: no ledger entry credits its {component.code} line "
                    f"of {line.amount} piastres; fix the ledger or the line first."
                )
            entry = (named or fits)[0]
            entries.remove(entry)  # one entry per line: a payment's lines credit distinct accounts
            account_id, key, _kind, _amount = entry
            line.account_id = account_id
            line.service_code = (memo or line.payment.service.code)[:20]
            if is_commission:
                line.agency_id = None
            else:
                catalog = component.agency_id or line.payment.service.agency_id
                line.agency_id = agency_by_code.get(_agency_code(key), catalog)
        PaymentLine.objects.bulk_update(
            lines, ["account", "agency", "service_code"], batch_size=CHUNK
        )
    if schema_editor.connection.vendor == "postgresql":
        # Check the new foreign keys now: PostgreSQL refuses the ALTER TABLE that follows
        # while deferred checks of the rows just updated are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("counter", "0002_payment_time_indexes"),
        ("float_management", "0005_idempotency_one_key_one_request"),
    ]

    operations = [
        migrations.AddField(
            model_name="paymentline",
            name="account",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="float_management.account",
            ),
        ),
        migrations.AddField(
            model_name="paymentline",
            name="agency",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payment_lines",
                to="counter.agency",
            ),
        ),
        migrations.AddField(
            model_name="paymentline",
            name="service_code",
            field=models.CharField(max_length=20, null=True),
        ),
        migrations.RunPython(fill_from_ledger, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="paymentline",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="float_management.account",
            ),
        ),
        migrations.AlterField(
            model_name="paymentline",
            name="service_code",
            field=models.CharField(max_length=20),
        ),
    ]
