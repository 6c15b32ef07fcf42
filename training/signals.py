"""What the training app tells the apps above it, without importing them (the arrows point down).

``evaluation_finished`` is sent once an evaluation job reaches COMPLETED, FAILED or CANCELED, with the
job as ``job``. Receivers call their own service (the races app records a submission's result there); a
receiver that raises is logged and never changes the job's outcome.

``heat_finished`` is the same for a head-to-model heat (a HeatJob): its ``result`` names the winner.
"""

from django.dispatch import Signal

evaluation_finished = Signal()
heat_finished = Signal()
