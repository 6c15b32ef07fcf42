from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from console.models import RacerProfile


@admin.register(RacerProfile)
class RacerProfileAdmin(admin.ModelAdmin):
    list_display = ("racer_name", "user", "created")
    search_fields = ("racer_name", "user__username", "user__email")
    readonly_fields = ("created",)


class RacerProfileInline(admin.StackedInline):
    model = RacerProfile
    can_delete = False
    readonly_fields = ("created",)


# Users and roles in one place: the racer name beside the account, roles as the account's groups.
admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class ConsoleUserAdmin(UserAdmin):
    inlines = [RacerProfileInline]
    list_display = ("username", "racer_name", "email", "is_superuser", "date_joined")
    list_filter = ("groups", "is_superuser", "is_active")
    search_fields = ("username", "email", "racer__racer_name")

    @admin.display(ordering="racer__racer_name")
    def racer_name(self, user):
        return getattr(getattr(user, "racer", None), "racer_name", None)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("racer")
