from django.contrib import admin

from races.models import Heat, Participant, Race, Submission


@admin.register(Race)
class RaceAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "is_open", "opens_at", "closes_at", "track", "ranking_method")
    list_filter = ("is_open", "ranking_method", "track")
    search_fields = ("name", "owner__username")
    readonly_fields = ("id", "invite_token", "created_at", "updated_at")


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("race", "user", "joined_at", "removed_at")
    search_fields = ("race__name", "user__username")


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("race", "participant", "model_name", "status", "ranking_ms", "submitted_at")
    list_filter = ("status",)
    readonly_fields = ("evaluation", "laps")


@admin.register(Heat)
class HeatAdmin(admin.ModelAdmin):
    list_display = ("race", "number", "round", "slot", "status", "winner", "finished_at")
    list_filter = ("status",)
    search_fields = ("race__name",)
    readonly_fields = ("job", "result", "first", "second", "winner")
