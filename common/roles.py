"""The console's roles: Django groups, created by a data migration (console) and re-created on demand.

Admins run the site (and are Django superusers); race facilitators organise community races; racers build,
train and race models. Every account is a racer. Shared below the apps: the races app checks them too.
"""

from django.contrib.auth.models import Group

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


def has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if role == ADMIN and user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def is_admin(user) -> bool:
    return has_role(user, ADMIN)


def roles_of(user) -> list[str]:
    # groups.all() uses prefetch_related("groups") when the caller did it (lists of users).
    names = {group.name for group in user.groups.all()}
    if user.is_superuser:
        names.add(ADMIN)
    return [role for role in ROLES if role in names]
