from django.urls import reverse


def test_it_lists_users_with_their_racer_names_for_admins(site_admin_client, owner):
    response = site_admin_client.get(reverse("admin:auth_user_changelist"))
    assert response.status_code == 200
    assert b"Owner_Racer" in response.content


def test_it_keeps_racers_out_of_the_admin_site(owner_client):
    response = owner_client.get(reverse("admin:auth_user_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_shows_a_console_page_for_unknown_urls(owner_client):
    response = owner_client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Back to the console" in response.content
