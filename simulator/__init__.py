"""The DeepRacer simulation: tracks, reward params, episode rules, the MuJoCo world and the Gymnasium env.

Plain Python (no Django, Celery or Channels). Kept import-light: importing ``simulator`` loads nothing
heavy; import the submodule you need (``simulator.tracks``, ``simulator.params``, ...).
"""
