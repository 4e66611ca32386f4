# PublicHoliday moved to core (core 0001 takes over the same table): the state only.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("receipts", "0002_print_post"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="PublicHoliday")],
            database_operations=[],
        ),
    ]
