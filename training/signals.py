"""What the training app tells the apps above it, without importing them (the arrows point down).

``evaluation_finished`` is sent once an evaluation job reaches COMPLETED, FAILED or CANCELED, with the
job as ``job``. Receivers call their own service (the races app records a submission's result there); a
receiver that raises is logged and never changes the job's outcome.

``heat_finished`` is the same for a head-to-model heat (a HeatJob): its ``result`` names the winner.

``live_run_started`` is sent by the worker when a live evaluation (EvaluationJob.live) starts, with the job
as ``job``. A receiver may answer with a callable that takes each tick of the run (a dict) and returns
fields to add to it before it is broadcast (the races app: the lap's sectors, timed and coloured).
"""

from django.dispatch import Signal

evaluation_finished = Signal()
heat_finished = Signal()
live_run_started = Signal()
