from django.urls import path

from races import live_views, views

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
