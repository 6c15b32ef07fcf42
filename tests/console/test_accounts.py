import pytest

from common import roles
from console import accounts
from console.models import RacerProfile
from garage.models import Vehicle
from tests.conftest import PASSWORD, make_racer


@pytest.mark.django_db
def test_it_makes_the_first_account_the_admin():
    first = accounts.sign_up("first", "first@example.com", PASSWORD)
    second = accounts.sign_up("second", "", PASSWORD)
    assert first.is_superuser and first.is_staff and roles.is_admin(first)
    assert roles.roles_of(first) == [roles.ADMIN, roles.RACER]
    assert not second.is_superuser and not roles.is_admin(second)
    assert roles.roles_of(second) == [roles.RACER]


@pytest.mark.django_db
def test_it_does_not_make_a_sign_up_admin_after_createsuperuser(django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    user = accounts.sign_up("racer", "", PASSWORD)
    assert not roles.is_admin(user)


@pytest.mark.django_db
def test_it_starts_accounts_without_a_racer_name():
    user = accounts.sign_up("first", "", PASSWORD)
    assert accounts.racer_name_of(user) is None
    assert RacerProfile.objects.get(user=user).has_racer_name is False


@pytest.mark.django_db
def test_it_sets_the_racer_name_once():
    user = make_racer("racer")
    accounts.choose_racer_name(user, "Speedy")
    assert accounts.racer_name_of(user) == "Speedy"
    with pytest.raises(accounts.RacerNameAlreadyChosen):
        accounts.choose_racer_name(user, "Other")
    assert RacerProfile.objects.get(user=user).racer_name == "Speedy"


@pytest.mark.django_db
def test_it_parks_the_default_vehicles_once_when_the_racer_name_is_chosen():
    user = accounts.sign_up("newcomer", "", PASSWORD)
    assert not Vehicle.objects.filter(owner=user).exists()
    accounts.choose_racer_name(user, "Speedy")
    with pytest.raises(accounts.RacerNameAlreadyChosen):
        accounts.choose_racer_name(user, "Other")
    names = list(Vehicle.objects.filter(owner=user).values_list("name", flat=True))
    assert names == ["The Original DeepRacer", "Continuous DeepRacer"]


@pytest.mark.django_db
def test_it_gives_a_createsuperuser_account_the_default_vehicles_at_onboarding(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    accounts.choose_racer_name(root, "Root_Racer")
    assert Vehicle.objects.filter(owner=root).count() == 2


@pytest.mark.django_db
def test_it_gives_no_vehicles_when_the_racer_name_is_taken():
    make_racer("first", "Speedy")
    user = make_racer("second")
    with pytest.raises(accounts.RacerNameTaken):
        accounts.choose_racer_name(user, "SPEEDY")
    assert not Vehicle.objects.filter(owner=user).exists()


@pytest.mark.django_db
def test_it_keeps_racer_names_unique_ignoring_case():
    make_racer("first", "Speedy")
    user = make_racer("second")
    with pytest.raises(accounts.RacerNameTaken, match="speedy is taken"):
        accounts.choose_racer_name(user, "speedy")


@pytest.mark.django_db
def test_it_enforces_unique_racer_names_in_the_database():
    from django.db import IntegrityError, transaction

    make_racer("first", "Speedy")
    second = make_racer("second")
    with pytest.raises(IntegrityError), transaction.atomic():
        RacerProfile.objects.filter(user=second).update(racer_name="SPEEDY")


@pytest.mark.django_db
def test_it_sends_a_createsuperuser_admin_to_choose_a_racer_name(client, monkeypatch):
    from django.core.management import call_command
    from django.urls import reverse

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com")
    assert client.login(username="root", password=PASSWORD)
    assert client.get(reverse("console:home"))["Location"].startswith(reverse("accounts:racer_name"))
    client.post(reverse("accounts:racer_name"), {"racer_name": "Root"})
    response = client.get(reverse("console:home"))
    assert b"Site administration" in response.content
