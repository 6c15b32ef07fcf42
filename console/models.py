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


class Registration(models.TextChoices):
    SELF_SERVICE = "self-service", "Self-service: anyone may sign up"
    INVITE_ONLY = "invite-only", "Invite-only: an invitation link is needed"


class SiteSettings(models.Model):
    """What an admin switches in the console (one row): how people join. The REGISTRATION_OPEN environment
    variable only sets the starting value of a new instance."""

    registration = models.CharField(max_length=16, choices=Registration.choices, blank=True,
                                    help_text="empty: REGISTRATION_OPEN decides")

    @classmethod
    def current(cls) -> "SiteSettings":
        # Read-only until an admin saves it: a page view never writes (the defaults are the fields').
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    @property
    def registration_open(self) -> bool:
        if self.registration:
            return self.registration == Registration.SELF_SERVICE
        return bool(settings.REGISTRATION_OPEN)


def _invitation_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


class Invitation(models.Model):
    """A single-use sign-up link an admin creates and copies (or mails, when a mail server is set)."""

    token = models.CharField(max_length=64, unique=True, default=_invitation_token)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    email = models.EmailField(blank=True, help_text="who it was mailed to, if anyone")
    used_by = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="invitation")
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def is_used(self) -> bool:
        return self.used_at is not None
