"""Which sensors a model's metadata names (SPEC 2), without torch: the web process reads metadata too, and
must not pay for importing torch (training.networks builds the networks from these answers)."""

CAMERA_SENSORS = ("FRONT_FACING_CAMERA", "STEREO_CAMERAS")
LIDAR_SENSORS = ("LIDAR", "SECTOR_LIDAR")


class NetworkError(ValueError):
    """The metadata asks for a network or sensor combination we cannot build."""


def camera_sensor(sensors) -> str:
    cameras = [s for s in sensors if s in CAMERA_SENSORS]
    if len(cameras) != 1:
        raise NetworkError(f"exactly one camera sensor is needed ({' or '.join(CAMERA_SENSORS)}), got {sensors}")
    return cameras[0]


def lidar_sensor(sensors) -> str | None:
    lidars = [s for s in sensors if s in LIDAR_SENSORS]
    if len(lidars) > 1:
        raise NetworkError(f"at most one LIDAR sensor, got {lidars}")
    return lidars[0] if lidars else None
