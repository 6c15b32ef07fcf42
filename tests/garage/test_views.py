import json

import pytest
from django.urls import reverse

from garage.models import DEFAULT_VEHICLES, ORIGINAL_DEEPRACER, Vehicle

BUILD = {
    "camera": "FRONT_FACING_CAMERA", "lidar": "", "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "action_space_type": "discrete", "discrete_mode": "simple", "max_steering": "20", "steering_granularity": "3",
    "max_speed": "2", "speed_granularity": "2", "name": "Quick Car", "shell": "rally", "colour": "#ff8800",
    "speed_low": "", "speed_high": "", "steering_low": "", "steering_high": "", "actions": "",
}


@pytest.fixture
def vehicle(owner):
    return Vehicle.objects.filter(owner=owner).first()


def test_it_lists_only_my_vehicles(owner_client, stranger):
    page = owner_client.get(reverse("garage:list"))
    assert page.status_code == 200
    assert [v.owner_id for v in page.context["vehicles"]] == [page.context["user"].pk] * 2
    assert b"Build new vehicle" in page.content


def test_it_requires_sign_in(client, vehicle):
    for url in (reverse("garage:list"), reverse("garage:build"), reverse("garage:detail", args=[vehicle.pk]),
                reverse("garage:mod", args=[vehicle.pk]), reverse("garage:delete", args=[vehicle.pk])):
        assert client.get(url).status_code == 302


def test_it_hides_my_vehicle_from_a_stranger(stranger_client, vehicle):
    for name in ("garage:detail", "garage:mod", "garage:delete"):
        assert stranger_client.get(reverse(name, args=[vehicle.pk])).status_code == 404
    assert stranger_client.post(reverse("garage:delete", args=[vehicle.pk])).status_code == 404
    assert stranger_client.post(reverse("garage:mod", args=[vehicle.pk]), BUILD).status_code == 404
    assert Vehicle.objects.filter(pk=vehicle.pk, name=vehicle.name).exists()


def test_it_refuses_wrong_methods(owner_client, vehicle):
    assert owner_client.post(reverse("garage:list")).status_code == 405
    assert owner_client.post(reverse("garage:detail", args=[vehicle.pk])).status_code == 405
    assert owner_client.put(reverse("garage:mod", args=[vehicle.pk])).status_code == 405


def test_it_builds_a_vehicle_from_the_simple_form(owner_client, owner):
    response = owner_client.post(reverse("garage:build"), BUILD)
    vehicle = Vehicle.objects.get(owner=owner, name="Quick Car")
    assert response.status_code == 302 and response["Location"] == reverse("garage:detail", args=[vehicle.pk])
    assert [(a["steering_angle"], a["speed"]) for a in vehicle.action_space] == [
        (-20.0, 1.0), (-20.0, 2.0), (0.0, 1.0), (0.0, 2.0), (20.0, 1.0), (20.0, 2.0)]
    assert vehicle.shell == "rally" and vehicle.colour == "#ff8800"


def test_it_offers_the_simapps_deep_network_after_the_consoles_two(owner_client, owner):
    page = owner_client.get(reverse("garage:build")).content.decode()
    positions = [page.index(f'value="{name}" ') for name in (
        "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "DEEP_CONVOLUTIONAL_NETWORK", "DEEP_CONVOLUTIONAL_NETWORK_DEEP")]
    assert positions == sorted(positions)
    owner_client.post(reverse("garage:build"), {**BUILD, "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_DEEP"})
    vehicle = Vehicle.objects.get(owner=owner, name="Quick Car")
    assert vehicle.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_DEEP" and vehicle.network_label.startswith("Deep CNN")


def test_it_recomputes_the_grid_whatever_the_browser_sent(owner_client, owner):
    forged = [{"steering_angle": 0, "speed": 4}] * 2
    owner_client.post(reverse("garage:build"), {**BUILD, "actions": json.dumps(forged)})
    assert len(Vehicle.objects.get(owner=owner, name="Quick Car").action_space) == 6


def test_it_builds_a_vehicle_from_the_advanced_editor(owner_client, owner):
    actions = [{"steering_angle": -10, "speed": 1.5}, {"steering_angle": 10, "speed": 1.5},
               {"steering_angle": 0, "speed": 3}]
    owner_client.post(reverse("garage:build"), {**BUILD, "discrete_mode": "advanced", "actions": json.dumps(actions),
                                                "lidar": "SECTOR_LIDAR", "camera": "STEREO_CAMERAS"})
    vehicle = Vehicle.objects.get(owner=owner, name="Quick Car")
    assert [a["speed"] for a in vehicle.action_space] == [1.5, 1.5, 3.0]
    assert vehicle.sensors == ["STEREO_CAMERAS", "SECTOR_LIDAR"]


def test_it_builds_a_continuous_vehicle(owner_client, owner):
    owner_client.post(reverse("garage:build"), {**BUILD, "action_space_type": "continuous", "speed_low": "0.5",
                                                "speed_high": "3", "steering_low": "-25", "steering_high": "25"})
    vehicle = Vehicle.objects.get(owner=owner, name="Quick Car")
    assert vehicle.action_space == {"speed": {"low": 0.5, "high": 3.0}, "steering_angle": {"low": -25.0, "high": 25.0}}


@pytest.mark.parametrize(("changes", "field"), [
    ({"max_speed": "5"}, "max_speed"),
    ({"max_steering": "0"}, "max_steering"),
    ({"steering_granularity": "4"}, "steering_granularity"),
    ({"discrete_mode": "advanced", "actions": json.dumps([{"steering_angle": 0, "speed": 1}])}, "actions"),
    ({"discrete_mode": "advanced", "actions": "[{"}, "actions"),
    ({"action_space_type": "continuous", "speed_low": "2", "speed_high": "1", "steering_low": "-30",
      "steering_high": "30"}, "speed_high"),
    ({"name": ""}, "name"),
    ({"name": "The Original DeepRacer"}, "name"),
    ({"name": "<script>"}, "name"),
    ({"colour": "red"}, "colour"),
    ({"camera": "LIDAR"}, "camera"),
    ({"neural_network": "RESNET"}, "neural_network"),
])
def test_it_shows_each_error_at_its_field_and_saves_nothing(owner_client, owner, changes, field):
    page = owner_client.post(reverse("garage:build"), {**BUILD, **changes})
    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert Vehicle.objects.filter(owner=owner).count() == 2


def test_it_mods_a_vehicle_without_touching_the_others(owner_client, vehicle):
    page = owner_client.get(reverse("garage:mod", args=[vehicle.pk]))
    assert page.context["form"].initial["discrete_mode"] == "advanced"
    owner_client.post(reverse("garage:mod", args=[vehicle.pk]), {**BUILD, "name": vehicle.name, "max_speed": "3"})
    vehicle.refresh_from_db()
    assert max(a["speed"] for a in vehicle.action_space) == 3.0


def test_it_deletes_after_confirming(owner_client, vehicle):
    assert owner_client.get(reverse("garage:delete", args=[vehicle.pk])).status_code == 200
    response = owner_client.post(reverse("garage:delete", args=[vehicle.pk]))
    assert response.status_code == 302
    assert not Vehicle.objects.filter(pk=vehicle.pk).exists()


def test_it_lists_vehicles_without_a_query_per_row(owner_client, owner, queries_of, django_assert_max_num_queries):
    few = queries_of(lambda: owner_client.get(reverse("garage:list")))
    for number in range(4):
        Vehicle.objects.create(owner=owner, **{**ORIGINAL_DEEPRACER, "name": f"spare-{number}"})
    with django_assert_max_num_queries(few):
        page = owner_client.get(reverse("garage:list"))
    assert len(page.context["vehicles"]) == len(DEFAULT_VEHICLES) + 4


def test_it_sends_anonymous_visitors_to_sign_in_before_any_change(client, vehicle):
    for url in (reverse("garage:build"), reverse("garage:mod", args=[vehicle.pk]),
                reverse("garage:delete", args=[vehicle.pk])):
        assert client.post(url, BUILD).status_code == 302, url
    assert Vehicle.objects.filter(pk=vehicle.pk, name=vehicle.name).exists() and Vehicle.objects.count() == 2


def test_it_refuses_wrong_methods_on_the_forms(owner_client, vehicle):
    assert owner_client.put(reverse("garage:build")).status_code == 405
    assert owner_client.put(reverse("garage:delete", args=[vehicle.pk])).status_code == 405
