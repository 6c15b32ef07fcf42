import pytest
from django.urls import reverse

URL = reverse("console:home")


@pytest.mark.django_db
def test_it_greets_anonymous_visitors_with_sign_up_and_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Teach a race car to drive itself" in response.content
    assert reverse("accounts:sign_up").encode() in response.content
    assert reverse("accounts:login").encode() in response.content
    assert b'id="side-nav"' not in response.content


def test_it_hides_sign_up_when_registration_is_closed(client, owner, settings):
    settings.REGISTRATION_OPEN = False
    response = client.get(URL)
    assert b'class="button primary" href="/accounts/signup/"' not in response.content


def test_it_teaches_the_concepts_to_racers(owner_client):
    response = owner_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Get started with reinforcement learning" in page
    for concept in ("agent", "environment", "state", "action", "reward", "episode", "explores", "exploits",
                    "Hyperparameters"):
        assert concept in page
    assert page.count("<svg") >= 5


def test_its_hyperparameter_table_gives_the_defaults_a_new_model_starts_with(owner_client):
    from simulator.spec import HYPERPARAMETER_DEFAULTS

    page = owner_client.get(URL).content.decode()
    assert f"<td>Number of epochs</td><td>{HYPERPARAMETER_DEFAULTS['num_epochs']}</td>" in page
    assert f"<td>Episodes between training</td><td>{HYPERPARAMETER_DEFAULTS['num_episodes_between_training']}</td>" in page
    assert "<td>Loss type</td><td>Huber</td>" in page


def test_it_shows_the_racer_name_in_the_header(owner_client):
    assert b'data-testid="racer-name">Owner_Racer<' in owner_client.get(URL).content


def test_it_calls_to_create_a_model(owner_client):
    # Every app is installed statically: the call to action always points at the wizard.
    from django.urls import reverse

    response = owner_client.get(URL)
    assert f'href="{reverse("models:create")}">Create model<'.encode() in response.content


def test_it_refuses_other_methods(owner_client):
    assert owner_client.post(URL).status_code == 405
