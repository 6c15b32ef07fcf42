from django import forms

from models_app.tracks import track_options
from simulator import spec
from simulator.spec import DEFAULT_TRIALS, MAX_TRIALS, MIN_TRIALS
from training.services import MAX_CONTINUE_MINUTES, MAX_PENALTY_SECONDS

SAME_AS_TRAINING = "TRAINING"
RACE_TYPES = ((SAME_AS_TRAINING, "Same as training"), *spec.RACE_TYPES.items())
# The evaluation track may differ from training's: its own direction, or the other way round.
DIRECTIONS = (("false", "The track's own direction"), ("true", "Reversed (the other way round)"))


def track_choices(model) -> list[tuple[str, str]]:
    """The built-in tracks and the owner's imported ones."""
    return [(slug, track.title) for slug, track in track_options(model.owner).items()]


class EvaluationForm(forms.Form):
    """SPEC 4: track, direction, race type (may differ from training), 3-5 trials, continuous mode."""

    track = forms.ChoiceField()
    reversed = forms.TypedChoiceField(label="Direction", choices=DIRECTIONS, coerce=lambda value: value == "true")
    race_type = forms.ChoiceField(choices=RACE_TYPES, initial=SAME_AS_TRAINING)
    object_count = forms.IntegerField(label="Objects (object avoidance)", min_value=spec.MIN_OBJECTS,
                                      max_value=spec.MAX_OBJECTS, initial=spec.DEFAULT_OBJECT_COUNT,
                                      required=False)
    bot_count = forms.IntegerField(label="Bot cars (head-to-bot)", min_value=spec.MIN_OBJECTS,
                                   max_value=spec.MAX_OBJECTS, initial=spec.DEFAULT_BOT_COUNT,
                                   required=False)
    bot_speed = forms.FloatField(label="Bot speed, m/s (head-to-bot)", min_value=spec.MIN_BOT_SPEED,
                                 max_value=spec.MAX_BOT_SPEED, initial=spec.DEFAULT_BOT_SPEED,
                                 required=False)
    trials = forms.IntegerField(min_value=MIN_TRIALS, max_value=MAX_TRIALS, initial=DEFAULT_TRIALS,
                                help_text=f"Laps to run: {MIN_TRIALS} to {MAX_TRIALS}.")
    continuous = forms.BooleanField(label="Continuous mode", required=False,
                                    help_text="Off track or a crash resets the car with a time penalty "
                                              "instead of ending the lap.")
    off_track_penalty = forms.FloatField(label="Off-track penalty, s", min_value=0, max_value=MAX_PENALTY_SECONDS,
                                         initial=spec.DEFAULT_PENALTY)
    collision_penalty = forms.FloatField(label="Collision penalty, s", min_value=0,
                                         max_value=MAX_PENALTY_SECONDS, initial=spec.DEFAULT_PENALTY)

    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = model
        self.fields["track"].choices = track_choices(model)
        self.fields["track"].initial = model.track
        self.fields["reversed"].initial = "true" if model.track_reversed else "false"

    def race_type_dict(self) -> dict:
        data = self.cleaned_data
        kind = data["race_type"]
        if kind == SAME_AS_TRAINING:
            return dict(self.model.race_type or {})
        if kind == spec.OBJECT_AVOIDANCE:
            return {"race_type": kind, "object_count": data.get("object_count") or spec.DEFAULT_OBJECT_COUNT,
                    "randomize_objects": True}
        if kind == spec.HEAD_TO_BOT:
            return {"race_type": kind, "bot_count": data.get("bot_count") or spec.DEFAULT_BOT_COUNT,
                    "bot_speed": data.get("bot_speed") or spec.DEFAULT_BOT_SPEED, "bot_lane_changes": False}
        return {"race_type": spec.TIME_TRIAL}

    def start_arguments(self) -> dict:
        data = self.cleaned_data
        return {"track": data["track"], "reversed": data["reversed"], "race_type": self.race_type_dict(),
                "trials": data["trials"], "continuous": data["continuous"],
                "off_track_penalty": data["off_track_penalty"], "collision_penalty": data["collision_penalty"]}


class ContinueTrainingForm(forms.Form):
    """Continue a failed or stopped training for this many more minutes (blank: what its limit left)."""

    minutes = forms.FloatField(required=False, min_value=0.1, max_value=MAX_CONTINUE_MINUTES,
                               label="More minutes")
