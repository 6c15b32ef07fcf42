import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_it_reports_database_and_redis(client, redis_url):
    response = client.get(reverse("console:health"))
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_it_answers_503_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("console:health"))
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
