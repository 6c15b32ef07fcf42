"""Workflows that cross the model store and the training service."""

import shutil

from models_app.models import RLModel
from training.services import training_start


def model_create(form) -> tuple[RLModel, str | None]:
    """Save the wizard's model, write its folder and start training. Returns (model, warning or None)."""
    model = form.save()
    model.write_folder()
    training_start(model)
    return model, None


def model_delete(model: RLModel):
    folder = model.folder
    model.delete()
    shutil.rmtree(folder, ignore_errors=True)
