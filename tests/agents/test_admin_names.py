"""The admin speaks Arabic too: every model's names go through the catalogue."""

from django.contrib import admin
from django.urls import reverse
from django.utils.functional import Promise


def test_every_model_in_the_admin_has_translatable_names():
    # Django's default plural is the English name plus "s": only a name given in Meta
    # through gettext_lazy reaches the catalogue.
    untranslatable = [
        model.__name__
        for model in admin.site._registry
        for name in ("verbose_name", "verbose_name_plural")
        if not isinstance(model._meta.original_attrs.get(name), Promise)
    ]
    assert untranslatable == []


def test_the_admin_index_in_arabic_names_no_model_in_english(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    for english in ("Settlement items", "Vault movements"):
        assert english not in html
