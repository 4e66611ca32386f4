from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from agents.models import Branch, Counter, Governorate, Profile


@admin.register(Governorate)
class GovernorateAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ar", "name_en", "abroad"]
    search_fields = ["code", "name_ar", "name_en"]


class CounterInline(admin.TabularInline):
    model = Counter
    extra = 0


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name_ar", "name_en", "governorate", "till_cash_limit", "is_active"]
    list_filter = ["governorate", "is_active"]
    search_fields = ["code", "name_ar", "name_en"]
    list_select_related = ["governorate"]
    inlines = [CounterInline]


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ["branch", "number", "is_active"]
    list_filter = ["is_active", "branch__governorate"]
    search_fields = ["branch__code", "branch__name_ar", "branch__name_en"]
    list_select_related = ["branch"]
    autocomplete_fields = ["branch"]


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    autocomplete_fields = ["branch", "governorate"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "first_name", "last_name", "profile_role", "is_active"]
    list_select_related = ["profile"]
    list_filter = ["profile__role", "is_active", "is_staff"]

    @admin.display(description=Profile._meta.get_field("role").verbose_name)
    def profile_role(self, user):
        profile = getattr(user, "profile", None)
        return profile.get_role_display() if profile else "—"
