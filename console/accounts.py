"""Account workflows: sign-up (the first account becomes the admin) and choosing a racer name, the
onboarding step every account passes through (sign-up, createsuperuser and the admin site alike)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from common import roles
from console.models import Invitation, RacerProfile, SiteSettings
from garage.models import Vehicle
from training import quotas


class RacerNameTaken(ValueError):
    pass


class RacerNameAlreadyChosen(ValueError):
    pass


class InvitationInvalid(ValueError):
    """The sign-up link's invitation does not exist or was used already."""


def registration_open() -> bool:
    """Self-service sign-up (switched by an admin in the console), or a fresh install's first account."""
    return SiteSettings.current().registration_open or is_first_account()


def invitation_usable(token: str | None) -> bool:
    return bool(token) and Invitation.objects.filter(token=token, used_at__isnull=True).exists()


def invitation_create(admin, email: str = "") -> Invitation:
    return Invitation.objects.create(created_by=admin, email=email)


def mail_configured() -> bool:
    """A mail server is set (EMAIL_HOST): invitations may be mailed; without one, admins copy the link."""
    return bool(settings.EMAIL_HOST)


def invitation_mail(invitation: Invitation, link: str) -> bool:
    """Mail the link to the invitation's address when mail is configured; False when it is not."""
    if not (invitation.email and mail_configured()):
        return False
    send_mail("Your invitation to the DeepRacer console",
              f"You are invited to join the DeepRacer console. Sign up with this link (it works once):\n\n{link}\n",
              None, [invitation.email])
    return True


def racer_name_of(user) -> str | None:
    """The user's racer name, or None; remembered on the user object for the rest of the request."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_racer_name"):
        profile = RacerProfile.objects.filter(user=user).only("racer_name").first()
        user._racer_name = profile.racer_name if profile else None
    return user._racer_name


def is_first_account() -> bool:
    return not get_user_model().objects.exists()


@transaction.atomic
def sign_up(username: str, email: str, password: str, invitation: str | None = None):
    """Create an account. On a fresh install the first account is the admin: no default password exists.
    With ``invitation`` (a sign-up link's token) the invitation is used up, once: a second sign-up with the
    same link raises InvitationInvalid and creates nothing."""
    _serialize_sign_ups()
    first = is_first_account()
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    if invitation and not Invitation.objects.filter(token=invitation, used_at__isnull=True).update(
            used_by=user, used_at=timezone.now()):
        raise InvitationInvalid("This invitation link was used already or does not exist: ask for a new one.")
    RacerProfile.objects.create(user=user)
    roles.grant_role(user, roles.RACER)
    quotas.quota_for_new_racer(user)
    if first:
        roles.grant_role(user, roles.ADMIN)
    return user


def _serialize_sign_ups() -> None:
    # Two people signing up at once on a fresh install must not both become admin. SQLite already
    # serializes writers (IMMEDIATE transactions); PostgreSQL needs the user table locked against inserts.
    if connection.vendor == "postgresql":
        table = get_user_model()._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE')


def choose_racer_name(user, racer_name: str) -> RacerProfile:
    """Set the racer name once; it cannot be changed afterwards (leaderboards keep showing it).
    Becoming a racer also parks the default vehicles in the racer's Garage (once: the name is chosen once)."""
    with transaction.atomic():
        profile, _ = RacerProfile.objects.select_for_update().get_or_create(user=user)
        if profile.racer_name:
            raise RacerNameAlreadyChosen(f"Your racer name is already {profile.racer_name}.")
        if RacerProfile.objects.filter(racer_name__iexact=racer_name).exists():
            raise RacerNameTaken(f"The racer name {racer_name} is taken. Please choose another.")
        profile.racer_name = racer_name
        try:
            with transaction.atomic():
                profile.save(update_fields=["racer_name"])
        except IntegrityError:
            # Someone else took it between the check and the save.
            raise RacerNameTaken(f"The racer name {racer_name} is taken. Please choose another.") from None
        Vehicle.objects.create_defaults(user)
    user._racer_name = racer_name
    return profile
