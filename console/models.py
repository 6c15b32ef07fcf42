from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

RACER_NAME_PATTERN = r"^[A-Za-z0-9_-]{2,64}$"
RACER_NAME_HELP = "2 to 64 letters, digits, '_' or '-'. Shown on leaderboards; you choose it once."


class RacerProfile(models.Model):
    """What the console shows of a person: the racer name on leaderboards and in the header."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="racer")
    racer_name = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        validators=[RegexValidator(RACER_NAME_PATTERN, RACER_NAME_HELP)],
        help_text=RACER_NAME_HELP,
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # "Speedy" and "speedy" would be the same racer to anyone reading a leaderboard.
            models.UniqueConstraint(Lower("racer_name"), name="unique_racer_name_ignoring_case"),
        ]

    def __str__(self):
        return self.racer_name or f"(no racer name: {self.user.get_username()})"

    @property
    def has_racer_name(self) -> bool:
        return bool(self.racer_name)
