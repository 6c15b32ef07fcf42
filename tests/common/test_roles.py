import pytest
from django.contrib.auth.models import AnonymousUser, Group

from common import roles
from tests.conftest import make_racer


@pytest.mark.django_db
def test_it_creates_the_role_groups_in_a_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= {"admin", "race facilitator", "racer"}


@pytest.mark.django_db
def test_it_grants_roles_and_recreates_a_missing_group():
    Group.objects.filter(name=roles.RACE_FACILITATOR).delete()
    user = make_racer("racer", "Racer")
    roles.grant_role(user, roles.RACE_FACILITATOR)
    assert roles.has_role(user, roles.RACE_FACILITATOR)
    assert roles.roles_of(user) == [roles.RACE_FACILITATOR, roles.RACER]


@pytest.mark.django_db
def test_it_makes_admins_superusers():
    user = make_racer("boss", "Boss", roles.ADMIN)
    user.refresh_from_db()
    assert user.is_superuser and user.is_staff and roles.is_admin(user)


def test_it_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="Unknown role 'pilot'"):
        roles.role_group("pilot")


def test_it_gives_anonymous_users_no_role():
    assert roles.has_role(AnonymousUser(), roles.RACER) is False


@pytest.mark.django_db
def test_it_reads_a_users_roles_once_and_sees_them_change(django_assert_num_queries):
    user = make_racer("racer", "Racer")
    with django_assert_num_queries(1):  # a page asks several times: the navigation, the page, its checks
        assert not roles.is_admin(user) and not roles.has_role(user, roles.RACE_FACILITATOR)
        assert roles.roles_of(user) == [roles.RACER]
    roles.grant_role(user, roles.RACE_FACILITATOR)
    assert roles.has_role(user, roles.RACE_FACILITATOR)
    roles.revoke_role(user, roles.RACE_FACILITATOR)
    assert roles.roles_of(user) == [roles.RACER]
    Group.objects.get(name=roles.RACE_FACILITATOR).user_set.add(user)  # elsewhere (another request)
    user.refresh_from_db()
    assert roles.has_role(user, roles.RACE_FACILITATOR)
