"""A track simple enough to check params by hand: a 4 m square, 1 m wide, counter-clockwise from
(0, 0), waypoints every 0.5 m. Lap 16 m; the infield is the square 0.5..3.5."""

import numpy as np

from simulator.tracks import Track

SIDE = 4.0
SPACING = 0.5


def square_track() -> Track:
    corners = np.array([(0.0, 0.0), (SIDE, 0.0), (SIDE, SIDE), (0.0, SIDE), (0.0, 0.0)])
    steps = int(SIDE / SPACING)
    centre = np.vstack(
        [corners[i] + (corners[i + 1] - corners[i]) * k / steps for i in range(4) for k in range(steps)]
        + [corners[:1]]
    )
    middle = SIDE / 2
    inner = middle + (centre - middle) * 0.75  # the square 0.5..3.5
    outer = middle + (centre - middle) * 1.25  # the square -0.5..4.5
    return Track("square", "Square", centre, inner, outer)
