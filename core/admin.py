from django.contrib import admin

from core.models import PublicHoliday


@admin.register(PublicHoliday)
class PublicHolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name_ar", "name_en"]
    date_hierarchy = "date"
    search_fields = ["name_ar", "name_en"]
