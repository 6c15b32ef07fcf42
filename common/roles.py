"""The console's roles: Django groups, created by a data migration (console) and re-created on demand.

Admins run the site (and are Django superusers); race facilitators organise community races; racers build,
train and race models. Every account is a racer. Shared below the apps: the races app checks them too.
"""

from django.contrib.auth.models import Group
from django.db.models import prefetch_related_objects

ADMIN = "admin"
RACE_FACILITATOR = "race facilitator"
RACER = "racer"
ROLES = (ADMIN, RACE_FACILITATOR, RACER)


def role_group(role: str) -> Group:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: expected one of {', '.join(ROLES)}.")
    # get_or_create: a flushed test database or a hand-edited site may have lost the migration's groups.
    group, _ = Group.objects.get_or_create(name=role)
    return group


def grant_role(user, role: str) -> None:
    user.groups.add(role_group(role))
    if role == ADMIN and not (user.is_superuser and user.is_staff):
        user.is_superuser = user.is_staff = True
        user.save(update_fields=["is_superuser", "is_staff"])


def revoke_role(user, role: str) -> None:
    if role == RACER:
        raise ValueError("Every account is a racer: the racer role cannot be taken away.")
    user.groups.remove(role_group(role))
    if role == ADMIN and (user.is_superuser or user.is_staff):
        user.is_superuser = user.is_staff = False
        user.save(update_fields=["is_superuser", "is_staff"])


def _group_names(user) -> set[str]:
    """The user's groups, read once per user object: a page asks several times (the navigation, the page
    itself, its access checks). The prefetch is Django's: groups.add / remove and refresh_from_db forget it."""
    prefetch_related_objects([user], "groups")  # no query when the caller (or an earlier call) prefetched them
    return {group.name for group in user.groups.all()}


def has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if role == ADMIN and user.is_superuser:
        return True
    return role in _group_names(user)


def is_admin(user) -> bool:
    return has_role(user, ADMIN)


def roles_of(user) -> list[str]:
    names = _group_names(user)
    if user.is_superuser:
        names.add(ADMIN)
    return [role for role in ROLES if role in names]
