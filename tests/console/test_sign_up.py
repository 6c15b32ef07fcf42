import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from common import roles
from tests.conftest import PASSWORD

URL = reverse("accounts:sign_up")
FORM = {"username": "newbie", "email": "", "password1": PASSWORD, "password2": PASSWORD}


@pytest.mark.django_db
def test_it_shows_the_form_and_says_the_first_account_becomes_admin(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"becomes its <strong>admin</strong>" in response.content


@pytest.mark.django_db
def test_it_signs_up_signs_in_and_asks_for_a_racer_name(client):
    response = client.post(URL, FORM)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:racer_name")
    user = get_user_model().objects.get(username="newbie")
    assert roles.is_admin(user)  # the first account
    assert client.get(reverse("accounts:racer_name")).status_code == 200  # signed in


def test_it_makes_later_accounts_racers(client, owner):
    client.post(URL, FORM)
    user = get_user_model().objects.get(username="newbie")
    assert roles.roles_of(user) == [roles.RACER]


@pytest.mark.django_db
def test_it_explains_bad_input_and_creates_nothing(client):
    response = client.post(URL, {**FORM, "password2": "something-else-42"})
    assert response.status_code == 200
    assert b"The two password fields" in response.content
    assert not get_user_model().objects.exists()


def test_it_refuses_sign_up_when_registration_is_closed(client, owner, settings):
    settings.REGISTRATION_OPEN = False
    response = client.post(URL, FORM)
    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="newbie").exists()


@pytest.mark.django_db
def test_it_lets_the_first_admin_sign_up_even_when_registration_is_closed(client, settings):
    settings.REGISTRATION_OPEN = False
    assert client.post(URL, FORM).status_code == 302


def test_it_sends_signed_in_users_home(owner_client):
    assert owner_client.get(URL)["Location"] == reverse("console:home")


@pytest.mark.django_db
def test_it_refuses_other_methods(client):
    assert client.put(URL).status_code == 405
