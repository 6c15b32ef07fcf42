"""SPEC 3 hyperparameters: the one check of a model's values against the defaults and ranges of
simulator/spec.py, shared by the create-model service (wizard and API) and model import. Plain Python."""

from simulator.spec import (
    ALGORITHMS,
    BATCH_SIZES,
    LOSS_TYPES,
    PPO,
    SAC,
    SAC_EPISODES_BETWEEN_TRAINING,
)
from simulator.spec import HYPERPARAMETER_DEFAULTS as DEFAULTS
from simulator.spec import HYPERPARAMETER_LABELS as LABELS
from simulator.spec import HYPERPARAMETER_RANGES as RANGES

__all__ = ["ALGORITHMS", "BATCH_SIZES", "DEFAULTS", "LABELS", "LOSS_TYPES", "PPO", "RANGES", "SAC",
           "HyperparameterError", "check_hyperparameters"]


class HyperparameterError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def check_hyperparameters(values: dict, algorithm: str) -> dict:
    """Defaults filled in, every value checked against SPEC 3; unknown names are refused."""
    if not isinstance(values, dict):
        raise HyperparameterError({"hyperparameters": "Give the hyperparameters as an object."})
    unknown = sorted(set(values) - set(DEFAULTS))
    errors = {name: "Unknown hyperparameter." for name in unknown}
    cleaned = {**DEFAULTS, **{k: v for k, v in values.items() if k in DEFAULTS and v is not None}}
    for name, (low, high, integer) in RANGES.items():
        value = cleaned[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and value != int(value)):
            errors[name] = "Enter a whole number." if integer else "Enter a number."
        elif not low <= value <= high:
            errors[name] = f"Enter a value from {low:g} to {high:g}."
        else:
            cleaned[name] = int(value) if integer else float(value)
    if cleaned["batch_size"] not in BATCH_SIZES or isinstance(cleaned["batch_size"], bool):
        errors["batch_size"] = "Choose one of " + ", ".join(map(str, BATCH_SIZES)) + "."
    if cleaned["loss_type"] not in LOSS_TYPES:
        errors["loss_type"] = "Choose huber or mean squared error."
    if errors:
        raise HyperparameterError(errors)
    if algorithm == SAC:
        cleaned["num_episodes_between_training"] = SAC_EPISODES_BETWEEN_TRAINING
    return cleaned
