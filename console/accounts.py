"""Account workflows: sign-up (the first account becomes the admin) and choosing a racer name, the
onboarding step every account passes through (sign-up, createsuperuser and the admin site alike)."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from common import roles
from console.models import RacerProfile
from garage.models import Vehicle


class RacerNameTaken(ValueError):
    pass


class RacerNameAlreadyChosen(ValueError):
    pass


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
def sign_up(username: str, email: str, password: str):
    """Create an account. On a fresh install the first account is the admin: no default password exists."""
    _serialize_sign_ups()
    first = is_first_account()
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    RacerProfile.objects.create(user=user)
    roles.grant_role(user, roles.RACER)
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
