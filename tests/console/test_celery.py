from console.celery import DEFAULT_QUEUE, TRAINING_QUEUE, app
from console.launcher import worker_commands


def test_it_declares_the_default_and_training_queues():
    assert {queue.name for queue in app.conf.task_queues} == {DEFAULT_QUEUE, TRAINING_QUEUE}
    assert app.conf.task_default_queue == DEFAULT_QUEUE


def test_it_reserves_one_job_at_a_time():
    assert app.conf.worker_prefetch_multiplier == 1


def test_it_runs_training_workers_in_a_pool_that_may_start_processes():
    commands = dict(worker_commands({"TRAINING_WORKERS": "2"}))
    training = [argv for name, argv in commands.items() if name.startswith("worker training")]
    assert len(training) == 2
    for argv in training:
        assert argv[argv.index("-Q") + 1] == "training"
        assert argv[argv.index("-P") + 1] == "solo"  # prefork children are daemonic: no env processes


def test_it_finds_the_console_tasks():
    app.loader.import_default_modules()
    assert "console.tasks.notify_user" in app.tasks


def test_it_runs_tasks_in_process_with_eager_celery(eager_celery, owner, redis_url):
    from console.tasks import notify_user

    assert notify_user.delay(owner.pk, "hello").successful()
