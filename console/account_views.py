from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from common.roles import roles_of
from console import accounts, usage
from console.forms import RacerNameForm, SignUpForm
from console.models import RacerProfile
from races.services import racer_results
from training import quotas


@require_http_methods(["GET", "POST"])
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("console:home")
    invitation = request.GET.get("invite") or request.POST.get("invite") or ""
    open_to_all = accounts.registration_open()
    if not open_to_all and not accounts.invitation_usable(invitation):
        return render(request, "registration/sign_up_closed.html", {"invitation": bool(invitation)}, status=403)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = accounts.sign_up(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                invitation=None if open_to_all else invitation,
            )
        except accounts.InvitationInvalid as error:
            form.add_error(None, str(error))
            return render(request, "registration/sign_up.html", {"form": form, "invite": invitation})
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if user.is_superuser:
            messages.success(request, "Welcome! As the first account on this console you are its admin.")
        return redirect("accounts:racer_name")
    return render(request, "registration/sign_up.html", {"form": form, "first_account": accounts.is_first_account(),
                                                         "invite": "" if open_to_all else invitation})


@login_required
@require_http_methods(["GET", "POST"])
def racer_name(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    if accounts.racer_name_of(request.user):
        messages.info(request, "Your racer name is chosen once and cannot be changed.")
        return redirect("accounts:profile")
    form = RacerNameForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.choose_racer_name(request.user, form.cleaned_data["racer_name"])
        except accounts.RacerNameTaken as error:
            form.add_error("racer_name", str(error))
        else:
            messages.success(request, f"Welcome to the console, {form.cleaned_data['racer_name']}!")
            return redirect(next_url or "console:home")
    return render(request, "registration/racer_name.html", {"form": form, "next": next_url})


@login_required
@require_GET
def profile(request):
    racer = get_object_or_404(RacerProfile, user=request.user)
    return render(request, "registration/profile.html", {"racer": racer, "roles": roles_of(request.user),
                                                         "results": racer_results(request.user, request.user),
                                                         "usage": usage.usage_of(request.user),
                                                         "resets_on": quotas.resets_on()})
