from django.urls import path

from races import heat_views, live_views, views

app_name = "races"

urlpatterns = [
    path("", views.race_list, name="list"),
    path("leaderboards/", views.leaderboards, name="leaderboards"),
    path("create/", views.race_create, name="create"),
    path("join/<str:token>/", views.race_join, name="join"),
    path("racers/<str:racer_name>/", views.racer_profile, name="racer"),
    path("projector/<str:token>/", live_views.race_projector, name="projector"),
    path("projector/<str:token>/state.json", live_views.projector_state, name="projector_state"),
    path("<uuid:race_id>/", views.race_detail, name="detail"),
    path("<uuid:race_id>/broadcast/", live_views.race_broadcast, name="broadcast"),
    path("<uuid:race_id>/live/state.json", live_views.live_state, name="live_state"),
    path("<uuid:race_id>/control/", live_views.race_control, name="control"),
    path("<uuid:race_id>/control/<slug:action>/", live_views.control_action, name="control_action"),
    path("<uuid:race_id>/control/runs/<int:submission_id>/<slug:action>/", live_views.run_action,
         name="run_action"),
    path("<uuid:race_id>/control/heats/<int:heat_id>/<slug:action>/", live_views.heat_queue_action,
         name="heat_queue_action"),
    path("<uuid:race_id>/heats/", heat_views.race_heats, name="heats"),
    path("<uuid:race_id>/heats/pair/", heat_views.heat_pair, name="heat_pair"),
    path("<uuid:race_id>/heats/seed/", heat_views.bracket_seed, name="bracket_seed"),
    path("<uuid:race_id>/heats/discard-bracket/", heat_views.bracket_discard, name="bracket_discard"),
    path("<uuid:race_id>/heats/start/", heat_views.heats_start, name="heats_start"),
    path("<uuid:race_id>/heats/<int:heat_id>/", heat_views.heat_detail, name="heat"),
    path("<uuid:race_id>/heats/<int:heat_id>/video.mp4", heat_views.heat_video, name="heat_video"),
    path("<uuid:race_id>/heats/<int:heat_id>/<slug:action>/", heat_views.heat_action, name="heat_action"),
    path("<uuid:race_id>/board/", views.race_board, name="board"),
    path("<uuid:race_id>/edit/", views.race_edit, name="edit"),
    path("<uuid:race_id>/clone/", views.race_clone, name="clone"),
    path("<uuid:race_id>/delete/", views.race_delete, name="delete"),
    path("<uuid:race_id>/close/", views.race_close, name="close"),
    path("<uuid:race_id>/reset-invite/", views.race_reset_invite, name="reset_invite"),
    path("<uuid:race_id>/racers/<int:user_id>/remove/", views.race_remove_racer, name="remove_racer"),
    path("<uuid:race_id>/submit/", views.race_submit, name="submit"),
    path("<uuid:race_id>/leaderboard.csv", views.race_csv, name="csv"),
    path("<uuid:race_id>/entries/<int:entry_id>/video.mp4", views.entry_video, name="entry_video"),
    path("<uuid:race_id>/entries/<int:entry_id>/simtrace.csv", views.entry_simtrace, name="entry_simtrace"),
]
