import pytest
from django.urls import reverse

from tests.conftest import make_racer


@pytest.fixture
def nameless_client(client, db):
    client.force_login(make_racer("nameless"))
    return client


def test_it_sends_users_without_a_racer_name_to_choose_one(nameless_client):
    response = nameless_client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:racer_name") + "?next=%2Faccounts%2Fprofile%2F"


@pytest.mark.parametrize("path", ["/health/", "/static/console/console.css"])
def test_it_lets_plumbing_through(nameless_client, path):
    assert nameless_client.get(path).status_code == 200


def test_it_lets_users_without_a_racer_name_sign_out(nameless_client):
    response = nameless_client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("console:home")


def test_it_leaves_anonymous_visitors_and_named_racers_alone(client, owner_client, db):
    assert client.get(reverse("console:home")).status_code == 200
    assert owner_client.get(reverse("console:home")).status_code == 200
