from django.contrib import admin

from models_app.models import RLModel


@admin.register(RLModel)
class RLModelAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "track", "training_algorithm", "created_at")
    list_filter = ("status", "training_algorithm", "track")
    search_fields = ("name", "owner__username")
    readonly_fields = ("id", "created_at", "parent")
