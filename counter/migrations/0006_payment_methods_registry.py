"""Payment methods from a registry (counter.methods): the method column takes any registered
key (16 characters for "wallet" and the like), and its check admits a method that fills
neither the cash columns nor the card's, while cash and card keep their own rule."""

import counter.models.payments
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0002_governorates'),
        ('counter', '0005_payment_voided_at_and_vacuum'),
        ('float_management', '0007_vault_move_confirmed_by_witness'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='payment',
            name='payment_tender_fits_method',
        ),
        migrations.AlterField(
            model_name='payment',
            name='method',
            field=models.CharField(choices=counter.models.payments.method_choices, max_length=16, verbose_name='method'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('card__isnull', True), ('change', django.db.models.expressions.CombinedExpression(models.F('tendered'), '-', models.F('total'))), ('method', 'cash'), ('tendered__gte', models.F('total'))), models.Q(('card__isnull', False), ('change__isnull', True), ('method', 'card'), ('tendered__isnull', True)), models.Q(models.Q(('method__in', ['cash', 'card']), _negated=True), ('card__isnull', True), ('change__isnull', True), ('tendered__isnull', True)), _connector='OR'), name='payment_tender_fits_method'),
        ),
    ]
