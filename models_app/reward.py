"""The reward editor's helpers: examples, the default function and Validate (SPEC 1.3), all from the
simulator's reward package. Validation never imports racer code here: the validator parses it and runs
its dynamic checks in the reward sandbox."""

import ast
from importlib import import_module

from simulator.tracks import Track

MAX_CODE_CHARS = 140_000
# Until simulator.reward.examples lands: the console's default example, follow the centre line (SPEC 1.4).
FALLBACK_DEFAULT_CODE = '''def reward_function(params):
    """Example of rewarding the agent to follow the center line."""
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]

    # Three markers at increasing distances from the center line
    marker_1 = 0.1 * track_width
    marker_2 = 0.25 * track_width
    marker_3 = 0.5 * track_width

    # Give a higher reward the closer the car is to the center line
    if distance_from_center <= marker_1:
        reward = 1.0
    elif distance_from_center <= marker_2:
        reward = 0.5
    elif distance_from_center <= marker_3:
        reward = 0.1
    else:
        reward = 1e-3  # likely crashed or close to off track

    return float(reward)
'''


class ValidationUnavailable(RuntimeError):
    """The simulator's reward validator is not installed in this checkout."""


def _module(name):
    try:
        return import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            return None
        raise


def examples() -> list[dict]:
    """[{slug, title, description, code}] for the editor's Insert-example menu."""
    module = _module("simulator.reward.examples")
    if module is None:
        return [{"slug": "follow_center_line", "title": "Time trial – follow the center line (default)",
                 "description": "Stay near the center line.", "code": FALLBACK_DEFAULT_CODE}]
    return [{"slug": slug, "title": example.title, "description": example.description, "code": example.code}
            for slug, example in module.EXAMPLES.items()]


def default_code() -> str:
    module = _module("simulator.reward.examples")
    if module is None:
        return FALLBACK_DEFAULT_CODE
    return module.EXAMPLES[module.DEFAULT_EXAMPLE].code


def validation_available() -> bool:
    return _module("simulator.reward.validation") is not None


def validate(code: str, track: Track, race_type: dict) -> list[dict]:
    """SPEC 1.3 errors [{type, message, line}] for this code on this track and race type."""
    return validate_with_warnings(code, track, race_type)[0]


def validate_with_warnings(code: str, track: Track, race_type: dict) -> tuple[list, list]:
    """(errors, warnings): warnings are style findings shown beside the code, never failures."""
    if len(code) > MAX_CODE_CHARS:
        return [{"type": "SYNTAX_ERROR", "line": None,
                 "message": f"The reward function is {len(code):,} characters; the limit is {MAX_CODE_CHARS:,}."}], []
    module = _module("simulator.reward.validation")
    if module is None:
        raise ValidationUnavailable("Reward validation is not installed yet (simulator.reward.validation).")
    from simulator.reward.sandbox import IsolationUnavailable

    try:
        if hasattr(module, "validate_with_warnings"):
            return module.validate_with_warnings(code, track, race_type)
        return module.validate_reward_function(code, track, race_type), []
    except IsolationUnavailable as error:
        raise ValidationUnavailable(f"This server cannot run reward code safely, so it cannot test it: {error}") from None


def syntax_errors(code: str) -> list[dict]:
    """Parse only (nothing runs): the check the wizard falls back to while validation is not installed."""
    try:
        ast.parse(code)
    except SyntaxError as error:
        return [{"type": "SYNTAX_ERROR", "message": error.msg, "line": error.lineno}]
    return []
