"""The reward editor's helpers: examples, the default function and Validate (SPEC 1.3), all from the
simulator's reward package. Validation never imports racer code here: the validator parses it and runs
its dynamic checks in the reward sandbox."""

from simulator.reward import validation
from simulator.reward.examples import DEFAULT_EXAMPLE, EXAMPLES, example_code
from simulator.reward.sandbox import IsolationUnavailable
from simulator.spec import MAX_REWARD_CODE_CHARS as MAX_CODE_CHARS
from simulator.tracks import Track


class ValidationUnavailable(RuntimeError):
    """No reward sandbox works on this server, so racer code cannot be run to test it (nor to train)."""


def examples(track: Track | None = None) -> list[dict]:
    """[{slug, title, description, code, racing_line}] for the editor's Insert-example menu. ``racing_line``:
    the code reads RACING_LINE; with ``track`` its code comes with that track's racing line above it (where
    the track is not known yet, the editor fetches the line when the example is inserted)."""
    return [{"slug": slug, "title": example.title, "description": example.description,
             "code": example_code(slug, track), "racing_line": example.racing_line}
            for slug, example in EXAMPLES.items()]


def default_code() -> str:
    return EXAMPLES[DEFAULT_EXAMPLE].code


def validate(code: str, track: Track, race_type: dict) -> list[dict]:
    """SPEC 1.3 errors [{type, message, line}] for this code on this track and race type."""
    return validate_with_warnings(code, track, race_type)[0]


def validate_with_warnings(code: str, track: Track, race_type: dict) -> tuple[list, list]:
    """(errors, warnings): warnings are style findings shown beside the code, never failures. Raises
    ValidationUnavailable, with what the server's admin can do, when no sandbox backend works."""
    if len(code) > MAX_CODE_CHARS:
        return [{"type": "SYNTAX_ERROR", "line": None,
                 "message": f"The reward function is {len(code):,} characters; the limit is {MAX_CODE_CHARS:,}."}], []
    try:
        return validation.validate_with_warnings(code, track, race_type)
    except IsolationUnavailable as error:
        raise ValidationUnavailable(
            f"This server cannot run reward functions safely, so it can neither test nor train one: {error} "
            "Your code is kept; ask the console's admin to fix the reward sandbox.") from None
