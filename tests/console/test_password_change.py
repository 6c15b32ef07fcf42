from django.urls import reverse

from tests.conftest import PASSWORD

URL = reverse("accounts:password_change")
NEW_PASSWORD = "a-new-and-longer-secret-77"


def test_it_changes_the_password(owner_client, owner):
    response = owner_client.post(URL, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                       "new_password2": NEW_PASSWORD})
    assert response["Location"] == reverse("accounts:password_change_done")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert owner_client.get(reverse("accounts:password_change_done")).status_code == 200


def test_it_needs_the_old_password(owner_client, owner):
    response = owner_client.post(URL, {"old_password": "wrong", "new_password1": NEW_PASSWORD,
                                       "new_password2": NEW_PASSWORD})
    assert response.status_code == 200
    assert b"Your old password was entered incorrectly" in response.content
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_it_needs_a_signed_in_user(client, db):
    assert client.get(URL)["Location"].startswith(reverse("accounts:login"))
