"""Sign-up switched by an admin in the console (invite-only or self-service) and single-use invitation links
(console.user_views.registration, invitation_create; console.accounts)."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from console.models import Invitation, Registration, SiteSettings
from tests.conftest import PASSWORD

URL = reverse("console:registration")
SIGN_UP = reverse("accounts:sign_up")


def _form(username):
    return {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD}


def _invite_only():
    SiteSettings.objects.update_or_create(pk=1, defaults={"registration": Registration.INVITE_ONLY})


def test_it_lets_an_admin_switch_sign_up_to_invite_only_and_back(site_admin_client, client):
    response = site_admin_client.post(URL, {"registration": Registration.INVITE_ONLY})
    assert response["Location"] == URL
    assert client.get(SIGN_UP).status_code == 403
    assert client.post(SIGN_UP, _form("gatecrasher")).status_code == 403
    site_admin_client.post(URL, {"registration": Registration.SELF_SERVICE})
    assert client.get(SIGN_UP).status_code == 200


def test_it_overrides_the_environment_variable(settings, site_admin_client, client):
    settings.REGISTRATION_OPEN = False
    assert client.get(SIGN_UP).status_code == 403
    site_admin_client.post(URL, {"registration": Registration.SELF_SERVICE})
    assert client.get(SIGN_UP).status_code == 200


def test_it_signs_up_once_with_an_invitation_link(site_admin_client, client):
    _invite_only()
    site_admin_client.post(reverse("console:invitation_create"), {"email": ""})
    invitation = Invitation.objects.get()
    link = f"{SIGN_UP}?invite={invitation.token}"
    assert f"?invite={invitation.token}".encode() in site_admin_client.get(URL).content
    assert client.get(link).status_code == 200
    response = client.post(SIGN_UP, {**_form("invited"), "invite": invitation.token})
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.used_by.username == "invited"
    client.logout()
    second = client.get(link)
    assert second.status_code == 403 and b"used already" in second.content
    assert client.post(SIGN_UP, {**_form("second"), "invite": invitation.token}).status_code == 403
    assert not get_user_model().objects.filter(username="second").exists()


def test_it_mails_the_link_only_when_a_mail_server_is_set(site_admin_client, settings):
    site_admin_client.post(reverse("console:invitation_create"), {"email": "racer@example.com"})
    assert mail.outbox == []
    settings.EMAIL_HOST = "smtp.example.com"
    site_admin_client.post(reverse("console:invitation_create"), {"email": "racer@example.com"})
    assert len(mail.outbox) == 1 and "?invite=" in mail.outbox[0].body
    assert Invitation.objects.count() == 2


def test_it_is_for_admins_only(owner_client):
    assert owner_client.get(URL).status_code == 403
    assert owner_client.post(URL, {"registration": Registration.INVITE_ONLY}).status_code == 403
    assert owner_client.post(reverse("console:invitation_create"), {}).status_code == 403
    assert not Invitation.objects.exists() and not SiteSettings.objects.filter(registration="invite-only").exists()


@pytest.mark.django_db
def test_it_always_lets_the_first_account_sign_up(client):
    _invite_only()
    assert client.get(SIGN_UP).status_code == 200
