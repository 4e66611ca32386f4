# One key, one request: keys are unique per scope, not per action (a cash payment's key
# can no longer post a card payment too). Decisions keep their keys in their own scope.

from django.db import migrations, models


def decisions_in_their_scope(apps, schema_editor):
    record = apps.get_model("float_management", "IdempotencyRecord")
    record.objects.filter(action="decide").update(scope="decision")


class Migration(migrations.Migration):
    dependencies = [
        ("float_management", "0004_idempotency_key_per_action"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="scope",
            field=models.CharField(default="request", max_length=20),
        ),
        migrations.RunPython(decisions_in_their_scope, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="idempotencyrecord",
            name="idempotency_key_per_action",
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(
                fields=("scope", "key"), name="idempotency_key_per_scope"
            ),
        ),
    ]
