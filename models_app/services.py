"""Workflows that cross the model store and the training service."""

import shutil
from importlib import import_module

from models_app.models import RLModel

TRAINING_UNAVAILABLE = ("Training is not installed in this console yet: the model is saved and waits in the "
                        "queue until it is.")


def training_service():
    """training.services.training_start, or None while the training app is not installed."""
    try:
        module = import_module("training.services")
    except ModuleNotFoundError as error:
        if error.name in ("training", "training.services"):
            return None
        raise
    return getattr(module, "training_start", None)


def model_create(form) -> tuple[RLModel, str | None]:
    """Save the wizard's model, write its folder and start training. Returns (model, warning or None)."""
    model = form.save()
    model.write_folder()
    start = training_service()
    if start is None:
        return model, TRAINING_UNAVAILABLE
    start(model)
    return model, None


def model_delete(model: RLModel):
    folders = (model.folder, model.analysis_cache)
    model.delete()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
