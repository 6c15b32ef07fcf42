from django.urls import reverse

from common import roles

URL = reverse("console:users")


def _roles_url(user):
    return reverse("console:user_roles", args=[user.pk])


def test_it_lists_users_with_racer_names_and_roles(site_admin_client, owner, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = site_admin_client.get(URL)
    assert response.status_code == 200
    assert b"Owner_Racer" in response.content and b"Site_Admin" in response.content


def test_it_is_for_admins_only(owner_client, client, db):
    assert owner_client.get(URL).status_code == 403
    assert client.get(URL)["Location"].startswith(reverse("accounts:login"))


def test_it_grants_and_revokes_roles(site_admin_client, owner):
    response = site_admin_client.post(_roles_url(owner), {"roles": [roles.RACE_FACILITATOR, roles.ADMIN]})
    assert response["Location"] == URL
    owner.refresh_from_db()
    assert roles.roles_of(owner) == [roles.ADMIN, roles.RACE_FACILITATOR, roles.RACER]
    site_admin_client.post(_roles_url(owner), {"roles": []})
    owner.refresh_from_db()
    assert roles.roles_of(owner) == [roles.RACER]
    assert not owner.is_superuser


def test_it_keeps_an_admin_from_demoting_themselves(site_admin_client, site_admin):
    site_admin_client.post(_roles_url(site_admin), {"roles": []})
    assert roles.is_admin(site_admin)
    assert b"cannot take away your own admin role" in site_admin_client.get(URL).content


def test_it_refuses_unknown_roles_and_changes_nothing(site_admin_client, owner):
    site_admin_client.post(_roles_url(owner), {"roles": ["overlord", roles.ADMIN]})
    assert roles.roles_of(owner) == [roles.RACER]


def test_it_lets_racers_change_no_roles(owner_client, stranger):
    assert owner_client.post(_roles_url(stranger), {"roles": [roles.ADMIN]}).status_code == 403
    assert not roles.is_admin(stranger)


def test_it_answers_404_for_an_unknown_user(site_admin_client):
    assert site_admin_client.post(reverse("console:user_roles", args=[99999]), {"roles": []}).status_code == 404


def test_it_refuses_other_methods(site_admin_client, owner):
    assert site_admin_client.post(URL).status_code == 405
    assert site_admin_client.get(_roles_url(owner)).status_code == 405
