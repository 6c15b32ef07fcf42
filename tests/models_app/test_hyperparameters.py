import pytest

from models_app.hyperparameters import DEFAULTS, HyperparameterError, check_hyperparameters


def test_it_fills_in_the_console_defaults():
    assert check_hyperparameters({}, "clipped_ppo") == DEFAULTS


def test_it_makes_sac_update_after_every_episode():
    assert check_hyperparameters({"num_episodes_between_training": 40}, "sac")["num_episodes_between_training"] == 1


@pytest.mark.parametrize(("name", "value"), [
    ("batch_size", 100), ("batch_size", True), ("num_epochs", 2), ("num_epochs", 11), ("num_epochs", 4.5),
    ("lr", 0.01), ("lr", 0), ("beta_entropy", 1.5), ("discount_factor", -0.1), ("loss_type", "l1"),
    ("num_episodes_between_training", 4), ("num_episodes_between_training", 101), ("sac_alpha", 2),
    ("lr", "fast"), ("momentum", 0.9),
])
def test_it_refuses_values_outside_spec_ranges(name, value):
    with pytest.raises(HyperparameterError) as error:
        check_hyperparameters({name: value}, "clipped_ppo")
    assert name in error.value.errors


def test_it_accepts_the_edges():
    values = {"batch_size": 512, "num_epochs": 3, "lr": 1e-8, "beta_entropy": 0, "discount_factor": 1,
              "loss_type": "mean squared error", "num_episodes_between_training": 100, "sac_alpha": 1}
    assert check_hyperparameters(values, "clipped_ppo") == {**values, "beta_entropy": 0.0, "discount_factor": 1.0,
                                                             "sac_alpha": 1.0}


def test_it_tells_the_console_which_values_are_out_of_its_ranges():
    """Moved from the learner's tests: the learner no longer checks the console's ranges a second time."""
    assert check_hyperparameters({}, "clipped_ppo") == DEFAULTS
    with pytest.raises(HyperparameterError) as error:
        check_hyperparameters({"batch_size": 100, "num_epochs": 20, "num_episodes_between_training": 1}, "clipped_ppo")
    assert len(error.value.errors) == 3
    assert check_hyperparameters({}, "sac")["num_episodes_between_training"] == 1
