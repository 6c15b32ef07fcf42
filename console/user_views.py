"""Administration: the console's users and their roles (admins only)."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from common import roles

# Roles an admin grants and revokes here; every account is a racer.
GRANTABLE_ROLES = (roles.ADMIN, roles.RACE_FACILITATOR)


def _require_admin(user) -> None:
    if not roles.is_admin(user):
        raise PermissionDenied("Only admins manage users and roles.")


@login_required
@require_GET
def users(request):
    _require_admin(request.user)
    people = get_user_model().objects.select_related("racer").prefetch_related("groups").order_by("date_joined")
    rows = [(person, roles.roles_of(person)) for person in people]
    return render(request, "console/users.html", {"rows": rows, "grantable_roles": GRANTABLE_ROLES})


@login_required
@require_POST
def user_roles(request, user_id: int):
    _require_admin(request.user)
    person = get_object_or_404(get_user_model(), pk=user_id)
    wanted = set(request.POST.getlist("roles"))
    unknown = wanted - set(GRANTABLE_ROLES)
    if unknown:
        messages.error(request, f"Unknown role: {', '.join(sorted(unknown))}. Nothing was changed.")
        return redirect("console:users")
    if person == request.user and roles.ADMIN not in wanted:
        messages.error(request, "You cannot take away your own admin role: ask another admin.")
        return redirect("console:users")
    for role in GRANTABLE_ROLES:
        if role in wanted:
            roles.grant_role(person, role)
        else:
            roles.revoke_role(person, role)
    messages.success(request, f"Roles of {person.get_username()} saved.")
    return redirect("console:users")
