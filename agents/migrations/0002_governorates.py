from django.db import migrations

from agents.governorates import BORN_ABROAD, GOVERNORATES


def load(apps, schema_editor):
    Governorate = apps.get_model("agents", "Governorate")
    for code, name_ar, name_en in GOVERNORATES:
        Governorate.objects.update_or_create(
            code=code, defaults={"name_ar": name_ar, "name_en": name_en, "abroad": False}
        )
    code, name_ar, name_en = BORN_ABROAD
    Governorate.objects.update_or_create(
        code=code, defaults={"name_ar": name_ar, "name_en": name_en, "abroad": True}
    )


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
