import pytest
from django.urls import reverse

from console.models import RacerProfile
from tests.conftest import make_racer

URL = reverse("accounts:racer_name")


@pytest.fixture
def nameless_client(client, db):
    client.force_login(make_racer("nameless"))
    return client


def test_it_needs_a_signed_in_user(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_it_sets_the_racer_name_and_goes_home(nameless_client):
    response = nameless_client.post(URL, {"racer_name": "Drift_King"})
    assert response["Location"] == reverse("console:home")
    assert RacerProfile.objects.get(user__username="nameless").racer_name == "Drift_King"


def test_it_returns_to_the_page_asked_for(nameless_client):
    response = nameless_client.post(URL, {"racer_name": "Drift_King", "next": "/accounts/profile/"})
    assert response["Location"] == "/accounts/profile/"


def test_it_ignores_a_next_url_on_another_site(nameless_client):
    response = nameless_client.post(URL, {"racer_name": "Drift_King", "next": "https://evil.example/"})
    assert response["Location"] == reverse("console:home")


@pytest.mark.parametrize("name", ["x", "has space", "ünïcode", "a" * 65, "semi;colon"])
def test_it_explains_an_invalid_racer_name(nameless_client, name):
    response = nameless_client.post(URL, {"racer_name": name})
    assert response.status_code == 200
    assert b"2 to 64 letters" in response.content or b"at most 64" in response.content
    assert RacerProfile.objects.get(user__username="nameless").racer_name is None


def test_it_explains_a_taken_racer_name(nameless_client, owner):
    response = nameless_client.post(URL, {"racer_name": owner.racer.racer_name.upper()})
    assert response.status_code == 200
    assert b"is taken" in response.content


def test_it_never_changes_a_chosen_racer_name(owner_client, owner):
    response = owner_client.post(URL, {"racer_name": "New_Name"})
    assert response["Location"] == reverse("accounts:profile")
    owner.racer.refresh_from_db()
    assert owner.racer.racer_name == "Owner_Racer"


def test_it_refuses_other_methods(nameless_client):
    assert nameless_client.delete(URL).status_code == 405


def test_it_explains_an_empty_submission(nameless_client):
    response = nameless_client.post(URL, {})
    assert response.status_code == 200
    assert b"This field is required" in response.content
