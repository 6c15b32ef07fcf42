"""What the headless commands share: finding the model, a tqdm bar fed by the engine's reports."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from tqdm import tqdm

from models_app.models import RLModel


def model_by_id_or_name(identifier: str, owner: str | None = None) -> RLModel:
    models = RLModel.objects.select_related("owner")
    if owner:
        models = models.filter(owner__username=owner)
    try:
        return models.get(pk=identifier)
    except (RLModel.DoesNotExist, ValidationError, ValueError):
        pass  # not an id: try the name
    matches = list(models.filter(name=identifier)[:2])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CommandError(f"Several models are named {identifier!r}: give the model id or --owner.")
    raise CommandError(f"No model {identifier!r} (give its id, or its name and --owner).")


class ProgressBar:
    """A tqdm bar over a unit (seconds of training, trials) and one summary line per iteration or trial."""

    def __init__(self, stdout, total: float, unit: str):
        self.stdout = stdout
        self.bar = tqdm(total=total, unit=unit, dynamic_ncols=True, file=stdout._out,
                        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}]")

    def advance_to(self, value: float) -> None:
        value = min(value, self.bar.total)
        if value > self.bar.n:
            self.bar.update(value - self.bar.n)

    def line(self, text: str) -> None:
        self.bar.write(text, file=self.stdout._out)

    def close(self) -> None:
        self.bar.close()
