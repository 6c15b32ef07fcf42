"""Administration (admins only): the console's users and their roles, quotas and usage, sign-up and
invitations."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import roles
from console import accounts
from console import usage as console_usage
from console.forms import InvitationForm, QuotaDefaultsForm, RacerQuotaForm, RegistrationForm
from console.models import Invitation, Registration, SiteSettings
from training import quotas
from training.models import UNLIMITED, QuotaSettings

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


# -- quotas and usage ------------------------------------------------------------------------------------------


@login_required
@require_GET
def usage(request):
    _require_admin(request.user)
    rows = console_usage.usage_of_everyone()
    return render(request, "console/usage.html", {
        "rows": rows, "totals": console_usage.totals(rows), "workers": console_usage.workers(),
        "defaults_form": QuotaDefaultsForm(instance=QuotaSettings.current()), "unlimited": UNLIMITED})


@login_required
@require_POST
def quota_defaults(request):
    _require_admin(request.user)
    form = QuotaDefaultsForm(request.POST, instance=QuotaSettings.current())
    if form.is_valid():
        form.save()
        messages.success(request, "Quota defaults saved.")
    else:
        messages.error(request, "Quota defaults not saved: " + "; ".join(
            f"{form.fields[name].label if name in form.fields else name}: {' '.join(errors)}"
            for name, errors in form.errors.items()))
    return redirect("console:usage")


@login_required
@require_POST
def user_quota(request, user_id: int):
    _require_admin(request.user)
    person = get_object_or_404(get_user_model(), pk=user_id)
    form = RacerQuotaForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Quota of {person.get_username()} not saved: " + "; ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return redirect("console:usage")
    quotas.set_override(person, **form.cleaned_data)
    messages.success(request, f"Quota of {person.get_username()} saved.")
    return redirect("console:usage")


# -- registration and invitations -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def registration(request):
    _require_admin(request.user)
    site = SiteSettings.current()
    form = RegistrationForm(request.POST if request.method == "POST" else None, initial={
        "registration": Registration.SELF_SERVICE if site.registration_open else Registration.INVITE_ONLY})
    if request.method == "POST" and form.is_valid():
        site.registration = form.cleaned_data["registration"]
        site.save()
        messages.success(request, f"Sign-up is now {site.get_registration_display().split(':')[0].lower()}.")
        return redirect("console:registration")
    invitations = Invitation.objects.select_related("used_by", "created_by")[:100]
    return render(request, "console/registration.html", {
        "form": form, "invitation_form": InvitationForm(), "invitations": invitations,
        "mail_configured": accounts.mail_configured(),
        "sign_up_url": request.build_absolute_uri(reverse("accounts:sign_up"))})


@login_required
@require_POST
def invitation_create(request):
    _require_admin(request.user)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email address, or none.")
        return redirect("console:registration")
    invitation = accounts.invitation_create(request.user, email=form.cleaned_data["email"])
    link = request.build_absolute_uri(reverse("accounts:sign_up") + f"?invite={invitation.token}")
    if invitation.email:
        sent = accounts.invitation_mail(invitation, link)
        messages.success(request, f"Invitation mailed to {invitation.email}." if sent else
                         "No mail server is set up: copy the link below and send it yourself.")
    else:
        messages.success(request, "Invitation created: copy its link below and send it.")
    return redirect("console:registration")
