"""The calendar's one table: the days the banks are closed."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PublicHoliday(models.Model):
    """A day the banks are closed (besides the Friday-Saturday weekend). Edited in the admin."""

    date = models.DateField(_("date"), unique=True)
    name_ar = models.CharField(_("Arabic name"), max_length=120)
    name_en = models.CharField(_("English name"), max_length=120)

    class Meta:
        db_table = "receipts_publicholiday"  # moved here from receipts; the table kept its name
        ordering = ["date"]
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holidays")

    def __str__(self) -> str:
        return f"{self.date} {self.name_en}"
