from django.contrib import admin

from console.models import RacerProfile


@admin.register(RacerProfile)
class RacerProfileAdmin(admin.ModelAdmin):
    list_display = ("racer_name", "user", "created")
    search_fields = ("racer_name", "user__username", "user__email")
    readonly_fields = ("created",)
