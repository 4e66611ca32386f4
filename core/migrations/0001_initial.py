# PublicHoliday moved here from receipts. Its table keeps its name and rows: on a database
# that has it (receipts 0001), only Django's picture of the model moves.
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("receipts", "0002_print_post"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PublicHoliday",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("date", models.DateField(unique=True, verbose_name="date")),
                        ("name_ar", models.CharField(max_length=120, verbose_name="Arabic name")),
                        ("name_en", models.CharField(max_length=120, verbose_name="English name")),
                    ],
                    options={
                        "verbose_name": "public holiday",
                        "verbose_name_plural": "public holidays",
                        "ordering": ["date"],
                        "db_table": "receipts_publicholiday",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
