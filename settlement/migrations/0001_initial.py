# SettlementBatch and SettlementItem moved here from receipts. Their tables keep their names,
# rows, constraints and indexes (receipts 0001 made them): only Django's picture of the models
# moves. The content types move too, so permissions given on them stay given.
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ["settlementbatch", "settlementitem"]


def content_types_to_settlement(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="settlement", model__in=MODELS).exists():
        ContentType.objects.filter(app_label="receipts", model__in=MODELS).update(
            app_label="settlement"
        )


def content_types_to_receipts(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="receipts", model__in=MODELS).exists():
        ContentType.objects.filter(app_label="settlement", model__in=MODELS).update(
            app_label="receipts"
        )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("receipts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("counter", "0001_initial"),
        ("float_management", "0004_idempotency_key_per_action"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SettlementBatch",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("business_day", models.DateField(verbose_name="business day")),
                        ("value_date", models.DateField(verbose_name="value date")),
                        ("total", models.BigIntegerField(verbose_name="total (piastres)")),
                        ("items_count", models.PositiveIntegerField(verbose_name="payments")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "agency",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="settlements",
                                to="counter.agency",
                                verbose_name="agency",
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "transfer",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="float_management.transfer",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "settlement batch",
                        "verbose_name_plural": "settlement batches",
                        "db_table": "receipts_settlementbatch",
                        "ordering": ["-business_day", "agency__code"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("agency", "business_day"),
                                name="one_batch_per_agency_and_day",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("total__gte", 0)),
                                name="batch_total_not_negative",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SettlementItem",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("amount", models.BigIntegerField()),
                        (
                            "agency",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="counter.agency",
                            ),
                        ),
                        (
                            "batch",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="items",
                                to="settlement.settlementbatch",
                            ),
                        ),
                        (
                            "payment",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="counter.payment",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "receipts_settlementitem",
                        "ordering": ["batch", "payment__created_at", "pk"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("payment", "agency"), name="settled_once"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("amount__gt", 0)),
                                name="item_amount_positive",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_settlement, content_types_to_receipts),
    ]
