"""The Build-new-vehicle / Mod-vehicle form. Whatever the browser sent, every value is checked here with
garage/action_space.py; the live table in the browser is only a preview."""

import json

from django import forms

from garage.action_space import simple_actions
from garage.models import COLOUR_PATTERN, DEFAULT_COLOUR, SHELLS, Vehicle, validate_vehicle_name
from simulator import spec

NO_LIDAR = ""
LIDAR_CHOICES = {NO_LIDAR: "No LIDAR", **spec.LIDARS}
SIMPLE, ADVANCED = "simple", "advanced"
DISCRETE_MODES = {SIMPLE: "Simple: steering and speed grid", ADVANCED: "Advanced: edit each action"}
# The form's field for every key action_space.py may complain about.
ERROR_FIELDS = {"action_space": "actions", "sensors": "camera"}


class VehicleForm(forms.Form):
    camera = forms.ChoiceField(choices=spec.CAMERAS.items(), widget=forms.RadioSelect,
                               initial=spec.FRONT_FACING_CAMERA)
    lidar = forms.ChoiceField(choices=LIDAR_CHOICES.items(), widget=forms.RadioSelect, required=False,
                              initial=NO_LIDAR, label="LIDAR")
    neural_network = forms.ChoiceField(choices=spec.NETWORKS.items(), widget=forms.RadioSelect,
                                       initial=spec.SHALLOW_CNN, label="Neural network")
    action_space_type = forms.ChoiceField(choices=spec.ACTION_SPACE_TYPES.items(), widget=forms.RadioSelect,
                                          initial=spec.DISCRETE, label="Action space")
    discrete_mode = forms.ChoiceField(choices=DISCRETE_MODES.items(), widget=forms.RadioSelect, initial=SIMPLE,
                                      required=False, label="Discrete form")
    max_steering = forms.FloatField(label="Maximum steering angle (°)", initial=30, required=False,
                                    help_text="1 to 30 degrees.")
    steering_granularity = forms.TypedChoiceField(
        choices=[(n, n) for n in spec.STEERING_GRANULARITIES], coerce=int, initial=5, required=False,
        label="Steering angle granularity")
    max_speed = forms.FloatField(label="Maximum speed (m/s)", initial=1.0, required=False,
                                 help_text="0.1 to 4 m/s.")
    speed_granularity = forms.TypedChoiceField(
        choices=[(n, n) for n in spec.SPEED_GRANULARITIES], coerce=int, initial=2, required=False,
        label="Speed granularity")
    actions = forms.CharField(widget=forms.HiddenInput, required=False,
                              help_text="The advanced editor's actions as JSON.")
    speed_low = forms.FloatField(label="Minimum speed (m/s)", initial=0.5, required=False)
    speed_high = forms.FloatField(label="Maximum speed (m/s)", initial=1.0, required=False)
    steering_low = forms.FloatField(label="Lowest steering angle (°)", initial=-30, required=False)
    steering_high = forms.FloatField(label="Highest steering angle (°)", initial=30, required=False)
    name = forms.CharField(max_length=64, validators=[validate_vehicle_name], label="Vehicle name")
    shell = forms.ChoiceField(choices=SHELLS.items(), initial="original")
    colour = forms.RegexField(regex=COLOUR_PATTERN, initial=DEFAULT_COLOUR, widget=forms.TextInput(attrs={"type": "color"}),
                              error_messages={"invalid": "Choose a colour as #rrggbb."})

    def __init__(self, *args, owner, instance: Vehicle | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_for(instance)
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.instance = instance

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        others = Vehicle.objects.filter(owner=self.owner, name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("You already have a vehicle with this name.")
        return name

    def clean(self):
        data = super().clean()
        sensors = [data.get("camera")] + ([data["lidar"]] if data.get("lidar") else [])
        try:
            data["sensors"] = spec.check_sensors(sensors)
            data["action_space"] = self._action_space(data)
        except spec.ActionSpaceError as error:
            for field, message in error.errors.items():
                field = ERROR_FIELDS.get(field, field)
                self.add_error(field if field in self.fields else None, message)
        return data

    def _action_space(self, data):
        if data.get("action_space_type") == spec.CONTINUOUS:
            return spec.check_continuous({
                "speed": {"low": data.get("speed_low"), "high": data.get("speed_high")},
                "steering_angle": {"low": data.get("steering_low"), "high": data.get("steering_high")},
            })
        if data.get("discrete_mode") == ADVANCED:
            return spec.check_discrete(parse_actions(data.get("actions")))
        return simple_actions(data.get("max_steering"), data.get("steering_granularity"),
                                      data.get("max_speed"), data.get("speed_granularity"))

    def save(self) -> Vehicle:
        data = self.cleaned_data
        vehicle = self.instance or Vehicle(owner=self.owner)
        vehicle.name = data["name"]
        vehicle.sensors = data["sensors"]
        vehicle.neural_network = data["neural_network"]
        vehicle.action_space_type = data["action_space_type"]
        vehicle.action_space = data["action_space"]
        vehicle.shell = data["shell"]
        vehicle.colour = data["colour"].lower()
        vehicle.save()
        return vehicle


def parse_actions(text):
    try:
        return json.loads(text or "[]")
    except ValueError:
        raise spec.ActionSpaceError({"actions": "The action list is not valid JSON."}) from None


def initial_for(vehicle: Vehicle) -> dict:
    """A vehicle's values in the form: a discrete one opens in the advanced editor with its own actions."""
    initial = {
        "camera": vehicle.sensors[0],
        "lidar": vehicle.sensors[1] if len(vehicle.sensors) > 1 else NO_LIDAR,
        "neural_network": vehicle.neural_network,
        "action_space_type": vehicle.action_space_type,
        "name": vehicle.name,
        "shell": vehicle.shell,
        "colour": vehicle.colour,
    }
    if vehicle.is_continuous:
        space = vehicle.action_space
        initial.update(speed_low=space["speed"]["low"], speed_high=space["speed"]["high"],
                       steering_low=space["steering_angle"]["low"], steering_high=space["steering_angle"]["high"])
    else:
        initial.update(discrete_mode=ADVANCED, actions=json.dumps(vehicle.action_space))
    return initial
