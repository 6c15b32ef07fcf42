"""docker-compose.worker.yml: the multi-host form. A worker on another machine runs only the training
queue and must be given the main host's database, Redis and model store (a shared volume)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_it_runs_only_a_training_worker_on_the_shared_database_redis_and_model_store():
    compose = yaml.safe_load((REPO / "docker-compose.worker.yml").read_text())
    assert list(compose["services"]) == ["worker"]
    worker = compose["services"]["worker"]
    command = worker["command"]
    assert command[command.index("-Q") + 1] == "training" and command[command.index("-P") + 1] == "solo"
    environment = worker["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        assert environment[name].startswith("${" + name + ":?"), f"{name} must be required, not defaulted"
    assert environment["MODEL_STORE"] == "/data/models" and worker["volumes"] == ["models:/data/models"]
    assert compose["volumes"]["models"]["driver_opts"]["type"] == "nfs"


def test_it_uses_the_main_hosts_image_and_worker_command():
    main = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["worker"]
    remote = yaml.safe_load((REPO / "docker-compose.worker.yml").read_text())["services"]["worker"]
    assert remote["command"] == main["command"]
    assert remote["image"] == "deepracer-console"


def test_it_lets_the_web_container_come_first_for_the_cpu_on_its_host():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["cpu_shares"] < services["web"].get("cpu_shares", 1024)
