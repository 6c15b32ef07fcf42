from django.urls import reverse

URL = reverse("accounts:profile")


def test_it_shows_the_racer_name_and_roles(owner_client):
    response = owner_client.get(URL)
    assert response.status_code == 200
    assert b'data-testid="profile-racer-name">Owner_Racer<' in response.content
    assert b'<span class="badge">racer</span>' in response.content


def test_it_shows_each_racer_their_own_profile(stranger_client):
    response = stranger_client.get(URL)
    assert b"Stranger-Racer" in response.content
    assert b"Owner_Racer" not in response.content


def test_it_needs_a_signed_in_user(client, db):
    assert client.get(URL)["Location"].startswith(reverse("accounts:login"))


def test_it_refuses_other_methods(owner_client):
    assert owner_client.post(URL).status_code == 405
