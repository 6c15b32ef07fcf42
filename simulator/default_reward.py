"""The console's default reward as a plain callable, in a module that imports nothing heavy (no MuJoCo), so
that light test envs and tools can share it with DeepRacerEnv."""


def follow_center_line(params: dict) -> float:
    """The console's default reward: the closer to the centre line, the more reward."""
    distance, width = params["distance_from_center"], params["track_width"]
    if distance <= 0.1 * width:
        return 1.0
    if distance <= 0.25 * width:
        return 0.5
    if distance <= 0.5 * width:
        return 0.1
    return 1e-3
