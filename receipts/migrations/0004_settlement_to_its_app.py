# SettlementBatch and SettlementItem moved to the settlement app (settlement 0001 takes over
# the same tables): the state only.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("receipts", "0003_publicholiday_to_core"),
        ("settlement", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SettlementItem"),
                migrations.DeleteModel(name="SettlementBatch"),
            ],
            database_operations=[],
        ),
    ]
