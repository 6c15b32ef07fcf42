"""SPEC 3 hyperparameters: the console's defaults and allowed ranges, named as DeepRacer's
ip/hyperparameters.json. Plain Python, shared by the wizard, the API and model import."""

PPO = "clipped_ppo"
SAC = "sac"
ALGORITHMS = {PPO: "PPO", SAC: "SAC"}
BATCH_SIZES = (32, 64, 128, 256, 512)
LOSS_TYPES = ("huber", "mean squared error")
DEFAULTS = {
    "batch_size": 64,
    "num_epochs": 10,
    "lr": 0.0003,
    "beta_entropy": 0.01,
    "discount_factor": 0.999,
    "loss_type": "huber",
    "num_episodes_between_training": 20,
    "sac_alpha": 0.2,
}
# name -> (low, high, integer?) for the numeric ones
RANGES = {
    "num_epochs": (3, 10, True),
    "lr": (1e-8, 1e-3, False),
    "beta_entropy": (0.0, 1.0, False),
    "discount_factor": (0.0, 1.0, False),
    "num_episodes_between_training": (5, 100, True),
    "sac_alpha": (0.0, 1.0, False),
}
LABELS = {
    "batch_size": "Gradient descent batch size",
    "num_epochs": "Number of epochs",
    "lr": "Learning rate",
    "beta_entropy": "Entropy",
    "discount_factor": "Discount factor",
    "loss_type": "Loss type",
    "num_episodes_between_training": "Number of experience episodes between each policy-updating iteration",
    "sac_alpha": "SAC alpha (α)",
}
# SAC learns off-policy from a replay buffer: it updates after every episode (SPEC 3).
SAC_EPISODES_BETWEEN_TRAINING = 1


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
