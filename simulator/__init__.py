"""The DeepRacer simulation: tracks, reward params, episode rules, the MuJoCo world and the Gymnasium env.

Plain Python (no Django, Celery or Channels). Kept import-light: importing ``simulator`` loads nothing
heavy; import the submodule you need (``simulator.tracks``, ``simulator.params``, ...).
"""

import os

from gymnasium.envs.registration import register

# Headless offscreen rendering unless the caller chose a backend: MuJoCo picks its GL backend when it
# is first imported, so this must come before any simulator module imports mujoco. EGL renders on the GPU
# when there is one and on Mesa's llvmpipe otherwise; MUJOCO_GL=osmesa is the fallback.
os.environ.setdefault("MUJOCO_GL", "egl")

# `gymnasium.make("DeepRacer-v0", track=..., ...)` after `import simulator`; the env module (MuJoCo,
# renderers) is only imported when an env is made.
register(id="DeepRacer-v0", entry_point="simulator.env:DeepRacerEnv")
