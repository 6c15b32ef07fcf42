from django.urls import reverse

from tests.conftest import PASSWORD

URL = reverse("accounts:login")


def test_it_signs_in_and_goes_home(client, owner):
    response = client.post(URL, {"username": "owner", "password": PASSWORD})
    assert response["Location"] == reverse("console:home")
    assert b"Get started with reinforcement learning" in client.get(reverse("console:home")).content


def test_it_refuses_a_wrong_password(client, owner):
    response = client.post(URL, {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_it_signs_out_with_post_only(owner_client):
    assert owner_client.get(reverse("accounts:logout")).status_code == 405
    response = owner_client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("console:home")
    assert b"Teach a race car" in owner_client.get(reverse("console:home")).content
