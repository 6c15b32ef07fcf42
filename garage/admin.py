from django.contrib import admin

from garage.models import Vehicle


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "action_space_type", "neural_network", "updated_at")
    list_filter = ("action_space_type", "neural_network")
    search_fields = ("name", "owner__username")
