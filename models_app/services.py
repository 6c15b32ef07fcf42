"""Workflows that cross the database, the model store and the training service.

Creating a model (the wizard, its clone variant and the REST API all come here): `model_validate` checks
every field in one place and returns the errors keyed by field, `model_create` saves the model, writes its
folder and starts its training. The wizard's form and the API's serializers only translate their input
into these keyword arguments and the errors back onto their fields.
"""

import shutil

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from garage.models import Vehicle
from models_app import race_types, reward
from models_app.archive import Upload, discard_import, import_model
from models_app.hyperparameters import ALGORITHMS, SAC, HyperparameterError, check_hyperparameters
from models_app.models import (
    MAX_DESCRIPTION,
    MAX_MINUTES,
    MIN_MINUTES,
    RLModel,
    name_is_taken,
    validate_model_name,
)
from models_app.tracks import resolve_track
from simulator import spec
from simulator.tracks import TrackError
from training import quotas
from training.services import heat_folders, model_history_import, training_start


class ModelInvalid(ValueError):
    """The errors of a model that cannot be created, keyed by field; race_type and hyperparameters hold
    {their own field: [messages]}. `sandbox_unavailable` says why no reward code can run on this server."""

    def __init__(self, errors: dict, sandbox_unavailable: str | None = None):
        super().__init__("; ".join(f"{field}: {messages}" for field, messages in errors.items()))
        self.errors = errors
        self.sandbox_unavailable = sandbox_unavailable


def clone_arguments(source: RLModel) -> dict:
    """model_create's arguments that make a copy of `source` (a clone changes some of them)."""
    return {"name": clone_name(source), "description": source.description, "track": source.track,
            "track_reversed": source.track_reversed, "race_type": source.race_type,
            "reward_code": source.reward_code, "training_algorithm": source.training_algorithm,
            "hyperparameters": dict(source.hyperparameters), "max_minutes": source.max_minutes,
            "action_space": source.vehicle_snapshot["action_space"]}


def clone_name(source: RLModel) -> str:
    base = f"{source.name}-clone"[:58]
    name, number = base, 2
    while name_is_taken(source.owner, name):
        name, number = f"{base}-{number}", number + 1
    return name


def model_validate(*, owner, name, reward_code, description="", track=spec.DEFAULT_TRACK, track_reversed=False,
                   race_type=None, vehicle=None, training_algorithm=spec.PPO, hyperparameters=None,
                   max_minutes=spec.DEFAULT_TRAINING_MINUTES, source: RLModel | None = None,
                   action_space=None) -> tuple[dict, dict]:
    """(the RLModel fields to save, the errors by field). `vehicle` is one of the owner's Garage vehicles
    (or its id); a clone (`source`) keeps its parent's vehicle, with new `action_space` values if given.
    The reward code is validated (in the sandbox) only once everything else is right."""
    errors: dict = {}
    fields = {"owner": owner, "name": name, "description": description or "", "track": track,
              "track_reversed": bool(track_reversed), "reward_code": reward_code,
              "training_algorithm": training_algorithm, "max_minutes": max_minutes, "parent": source}
    _check_name(owner, name, errors)
    _check_quotas(owner, errors)
    if len(fields["description"]) > MAX_DESCRIPTION:
        errors["description"] = [f"Write at most {MAX_DESCRIPTION} characters."]
    track_object = _check_track(owner, track, fields["track_reversed"], errors)
    fields["race_type"] = _check_race_type(race_type, errors)
    fields["vehicle"], fields["vehicle_snapshot"] = _check_vehicle(owner, vehicle, source, action_space, errors)
    if training_algorithm not in ALGORITHMS:
        errors["training_algorithm"] = ["Choose " + " or ".join(ALGORITHMS) + "."]
    elif training_algorithm == SAC and fields["vehicle_snapshot"] and \
            fields["vehicle_snapshot"]["action_space_type"] != spec.CONTINUOUS:
        errors["training_algorithm"] = ["SAC needs a vehicle with a continuous action space."]
    fields["hyperparameters"] = _check_hyperparameters(hyperparameters, training_algorithm, errors)
    if isinstance(max_minutes, bool) or not isinstance(max_minutes, int) or \
            not MIN_MINUTES <= max_minutes <= MAX_MINUTES:
        errors["max_minutes"] = [f"Enter a whole number of minutes from {MIN_MINUTES} to {MAX_MINUTES}."]
    if not isinstance(reward_code, str) or not reward_code.strip():
        errors["reward_code"] = ["Write a reward function."]
    elif len(reward_code) > spec.MAX_REWARD_CODE_CHARS:
        errors["reward_code"] = [f"Write at most {spec.MAX_REWARD_CODE_CHARS:,} characters."]
    if not errors:
        _check_reward(reward_code, track_object, fields["race_type"], errors)
    return fields, errors


def _check_quotas(owner, errors):
    """A new model counts against the racer's model quota, and starts training (their compute quota)."""
    try:
        _check_model_quota(owner)
        quotas.check_compute(owner)
    except quotas.QuotaExceeded as error:
        errors[NON_FIELD_ERRORS] = [str(error)]


def _check_name(owner, name, errors):
    try:
        validate_model_name(name)
    except ValidationError as error:
        errors["name"] = list(error.messages)
        return
    if name_is_taken(owner, name):
        errors["name"] = ["You already have a model with this name."]


def _check_track(owner, slug, reversed_, errors):
    try:
        return resolve_track(owner.pk, str(slug), reversed_)
    except TrackError as error:
        errors["track"] = [f"Choose one of your tracks ({error})."]
        return None


def _check_race_type(race_type, errors) -> dict | None:
    try:
        return race_types.check_race_type(race_type)
    except race_types.RaceTypeError as error:
        errors["race_type"] = {field: [message] for field, message in error.errors.items()}
        return None


def _check_vehicle(owner, vehicle, source, action_space, errors):
    """(the Garage vehicle or None, the snapshot the model keeps)."""
    if source is not None:
        return source.vehicle, _cloned_snapshot(source, action_space, errors)
    vehicle_id = getattr(vehicle, "pk", vehicle)
    found = Vehicle.objects.filter(owner=owner, pk=vehicle_id).first() if isinstance(vehicle_id, int) else None
    if found is None:
        errors["vehicle"] = ["Choose one of your Garage vehicles."]
        return None, None
    return found, found.snapshot()


def _cloned_snapshot(source, edited, errors) -> dict | None:
    """The parent's vehicle with the action values the racer edited: same type, same action count."""
    snapshot = dict(source.vehicle_snapshot)
    if edited is None:
        return snapshot
    try:
        if snapshot["action_space_type"] == spec.DISCRETE:
            if not isinstance(edited, list) or len(edited) != len(snapshot["action_space"]):
                raise spec.ActionSpaceError({"action_space": (
                    f"A clone keeps its parent's {len(snapshot['action_space'])} actions: change their values, "
                    "not their number.")})
            snapshot["action_space"] = spec.check_discrete(edited, "action_space")
        else:
            snapshot["action_space"] = spec.check_continuous(edited)
    except spec.ActionSpaceError as error:
        errors["action_space"] = [" ".join(error.errors.values())]
        return None
    return snapshot


def _check_hyperparameters(values, algorithm, errors) -> dict | None:
    try:
        return check_hyperparameters({} if values is None else values, algorithm)
    except HyperparameterError as error:
        errors["hyperparameters"] = {field: [message] for field, message in error.errors.items()}
        return None


def _check_reward(code, track, race_type, errors):
    """Refuse a reward function that fails Validate, with each error at its line."""
    try:
        problems = reward.validate(code, track, race_type)
    except reward.ValidationUnavailable as error:
        errors["reward_code"] = [str(error)]
        raise ModelInvalid(errors, sandbox_unavailable=str(error)) from None
    if problems:
        errors["reward_code"] = [(f"Line {problem['line']}: " if problem.get("line") else "") + problem["message"]
                                 for problem in problems]


def model_create(**arguments) -> RLModel:
    """Check the model (model_validate's keyword arguments), save it, write its folder and start its
    training. Raises ModelInvalid with the errors by field, and creates nothing then."""
    fields, errors = model_validate(**arguments)
    if errors:
        raise ModelInvalid(errors)
    model = RLModel.objects.create(**fields)
    model.write_folder()
    training_start(model)
    return model


def _check_model_quota(owner) -> None:
    quotas.check_models(owner, RLModel.objects.filter(owner=owner).count())


def model_import(upload: Upload, *, owner, name: str, description: str = "") -> RLModel:
    """Import a DeepRacer model or log folder (models_app.archive) and record its past: the reward graph and
    evaluations its metrics hold, and the figures the model list shows. Nothing is kept if it fails. An
    imported model counts against the model quota as a created one does: quotas.QuotaExceeded, before the
    upload is read."""
    _check_model_quota(owner)
    model = import_model(upload, owner=owner, name=name, description=description)
    try:
        model_history_import(model)
    except BaseException:
        discard_import(model)
        raise
    return model


def model_delete(model: RLModel):
    # Its heat jobs go with it (cascade), so their replays and traces do too.
    folders = (model.folder, model.analysis_cache, *heat_folders(model))
    model.delete()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
