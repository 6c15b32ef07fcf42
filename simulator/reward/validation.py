"""The reward editor's Validate (SPEC 1.3): static checks, then 5 synthetic states through the sandbox.

Errors are ``{"type", "message", "line"}`` with ``type`` one of SPEC's ``SYNTAX_ERROR``,
``IMPORT_ERROR``, ``TEST_FAILURE``; style findings and unused names are warnings, returned apart and
never failures (the open-source console fails on any flake8 hit, which rejects most real functions for
blank lines alone). The static checks parse the code (``compile``, ``ast``, pyflakes) and never import
or run it in this process; only the dynamic checks run it, inside the same sandbox training uses.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable

import pyflakes.checker
import pyflakes.messages as flakes

from simulator.params import BOT_CAR_SIZE, PARAMS_POINT_AHEAD, RewardParams, TrackObject, place_car
from simulator.reward.protocol import ALLOWED_IMPORTS, RACER_FILENAME
from simulator.reward.sandbox import RewardCodeError, RewardFunctionError, RewardSandbox
from simulator.spec import DEFAULT_BOT_SPEED, DEFAULT_OBJECT_COUNT, HEAD_TO_BOT, OBJECT_AVOIDANCE, TIME_TRIAL
from simulator.spec import MAX_REWARD_CODE_CHARS as MAX_CODE_CHARS
from simulator.tracks import Track

SYNTAX_ERROR = "SYNTAX_ERROR"
IMPORT_ERROR = "IMPORT_ERROR"
TEST_FAILURE = "TEST_FAILURE"
WARNING = "WARNING"

STATE_TIMEOUT = 5.0                 # seconds per synthetic state (SPEC 1.3)
LOAD_TIMEOUT = 10.0                 # seconds to load the module (imports, module-level code)
FORBIDDEN_BUILTINS = frozenset({"open", "exec", "eval", "compile", "input", "__import__", "breakpoint"})
# Attribute names that only serve to reach around the import rules into the interpreter.
INTERPRETER_ESCAPES = frozenset({"__builtins__", "__subclasses__", "__globals__", "__code__", "__loader__",
                                 "__spec__", "__bases__", "__base__", "__mro__", "f_globals", "f_back",
                                 "gi_frame", "tb_frame"})

# pyflakes findings that would fail when the code runs; every other finding is a warning.
RUNTIME_FAILURES = (
    flakes.UndefinedName, flakes.UndefinedLocal, flakes.UndefinedExport, flakes.DuplicateArgument,
    flakes.ReturnOutsideFunction, flakes.YieldOutsideFunction, flakes.ContinueOutsideLoop,
    flakes.BreakOutsideLoop, flakes.DefaultExceptNotLast, flakes.TwoStarredExpressions,
    flakes.TooManyExpressionsInStarredAssignment, flakes.FutureFeatureNotDefined, flakes.LateFutureImport,
    flakes.ImportStarNotPermitted, flakes.InvalidPrintSyntax, flakes.RaiseNotImplemented,
    flakes.StringDotFormatMissingArgument, flakes.StringDotFormatMixingAutomatic,
    flakes.StringDotFormatInvalidFormat, flakes.PercentFormatInvalidFormat,
    flakes.PercentFormatMixedPositionalAndNamed, flakes.PercentFormatUnsupportedFormatCharacter,
    flakes.PercentFormatPositionalCountMismatch, flakes.PercentFormatMissingArgument,
    flakes.PercentFormatExpectedMapping, flakes.PercentFormatExpectedSequence,
    flakes.PercentFormatStarRequiresSequence,
)

# The synthetic states (SPEC 1.3): where on the lap, how far left of the centre line (in track widths,
# "inner" meaning towards the inner border), and what the episode says. In the order of an episode (the
# start line, steps 1, first): functions that set up their state on an episode's first step (the popular
# racing-line classes) validate as they would train.
SYNTHETIC_STATES = (
    ("start line", dict(lap=0.0, inner=0.0, progress=0.0, steps=1, speed=1.0, steering_angle=0.0)),
    ("normal", dict(lap=0.25, inner=0.125, progress=25.0, steps=60, speed=1.0, steering_angle=10.0)),
    ("mid-track", dict(lap=0.5, inner=0.0, progress=50.0, steps=100, speed=1.0, steering_angle=-10.0)),
    ("off-track", dict(lap=0.6, inner=-1.0, progress=60.0, steps=150, speed=1.0, steering_angle=30.0,
                       is_offtrack=True)),
    ("finish", dict(lap=0.999, inner=0.0, progress=100.0, steps=10000, speed=5.0, steering_angle=0.0)),
)


def validate_reward_function(code: str, track: Track, race_type: dict | None = None, *,
                             backend: str = "auto", state_timeout: float = STATE_TIMEOUT) -> list[dict]:
    """SPEC 1.3's list of errors for ``code`` on ``track`` and the model's race type ([] = valid).
    Raises IsolationUnavailable when this server cannot run reward code safely at all."""
    return validate_with_warnings(code, track, race_type, backend=backend, state_timeout=state_timeout)[0]


def validate_with_warnings(code: str, track: Track, race_type: dict | None = None, *,
                           backend: str = "auto", state_timeout: float = STATE_TIMEOUT
                           ) -> tuple[list[dict], list[dict]]:
    """(errors, warnings). Static checks first; the code runs (in the sandbox) only if they pass."""
    if not isinstance(code, str):
        return [_finding(SYNTAX_ERROR, "The reward function must be Python source text.")], []
    if len(code) > MAX_CODE_CHARS:
        return [_finding(SYNTAX_ERROR, f"The reward function is {len(code):,} characters long; the limit "
                                       f"is {MAX_CODE_CHARS:,}.")], []
    tree, errors = _parse(code)
    if tree is None:
        return errors, []
    errors, warnings = _lint(tree, code)
    errors += _arity_errors(tree) + _import_errors(tree) + _signature_errors(tree)
    if errors:
        return sorted(errors, key=_by_line), warnings
    return _run_states(code, track, race_type, backend, state_timeout), warnings


def _finding(kind: str, message: str, line: int | None = None) -> dict:
    return {"type": kind, "message": message, "line": line}


def _by_line(finding: dict):
    return (finding["line"] is None, finding["line"] or 0)


# --- static checks ---------------------------------------------------------------------------------

def _parse(code: str) -> tuple[ast.Module | None, list[dict]]:
    """Compile (catching what only the compiler sees: return outside a function, bad nonlocal, ...)
    and parse. Compiling runs nothing."""
    try:
        compile(code, RACER_FILENAME, "exec", dont_inherit=True)
        return ast.parse(code, RACER_FILENAME), []
    except SyntaxError as error:
        return None, [_finding(SYNTAX_ERROR, f"{type(error).__name__}: {error.msg}", error.lineno)]
    except (ValueError, RecursionError, MemoryError) as error:   # NUL bytes, absurd nesting
        message = "source code cannot contain null bytes" if isinstance(error, ValueError) else (
            "the code is nested too deeply to compile")
        return None, [_finding(SYNTAX_ERROR, f"SyntaxError: {message}")]


def _lint(tree: ast.Module, code: str) -> tuple[list[dict], list[dict]]:
    try:
        messages = pyflakes.checker.Checker(tree, filename=RACER_FILENAME).messages
    except RecursionError:
        return [], [_finding(WARNING, "The code is nested too deeply for the linter.")]
    errors, warnings = [], []
    for message in sorted(messages, key=lambda item: item.lineno):
        text = message.message % message.message_args
        if isinstance(message, RUNTIME_FAILURES):
            errors.append(_finding(SYNTAX_ERROR, text[0].upper() + text[1:], message.lineno))
        else:
            warnings.append(_finding(WARNING, text[0].upper() + text[1:], message.lineno))
    return errors, warnings


def _import_errors(tree: ast.Module) -> list[dict]:
    """SPEC 1.3 step 2: imports only from the allowed list; none of the dangerous builtins; no reaching
    into the interpreter around those rules."""
    allowed = ", ".join(sorted(name for name in ALLOWED_IMPORTS if not name.startswith("_")))
    bound_names = _names_bound_by_the_code(tree)
    errors = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = ["." * node.level + (node.module or "")]
        else:
            modules = []
        for module in modules:
            if module.startswith("."):
                errors.append(_finding(IMPORT_ERROR, f"Relative import '{module}' is not allowed.", node.lineno))
            elif module.partition(".")[0] not in ALLOWED_IMPORTS:
                errors.append(_finding(IMPORT_ERROR, f"Import of '{module}' is not allowed. Allowed modules: "
                                                     f"{allowed}.", node.lineno))
        if (isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS and node.id not in bound_names
                and isinstance(node.ctx, ast.Load)):
            errors.append(_finding(IMPORT_ERROR, f"'{node.id}' is not allowed in a reward function.",
                                   node.lineno))
        escape = _interpreter_escape(node)
        if escape:
            errors.append(_finding(IMPORT_ERROR, f"'{escape}' reaches into the interpreter and is not "
                                                 "allowed in a reward function.", node.lineno))
    return errors


def _interpreter_escape(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in INTERPRETER_ESCAPES:
        return node.attr
    if isinstance(node, ast.Name) and node.id in INTERPRETER_ESCAPES:
        return node.id
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
            "getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant) and node.args[1].value in INTERPRETER_ESCAPES):
        return node.args[1].value
    return None


def _names_bound_by_the_code(tree: ast.Module) -> set[str]:
    """Every name the code binds anywhere (assignments, defs, parameters, imports, loop targets)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _signature_errors(tree: ast.Module) -> list[dict]:
    """SPEC 1.3 step 3: a module-level ``reward_function`` taking exactly one parameter."""
    definitions = [node for node in tree.body
                   if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "reward_function"]
    if not definitions:
        if "reward_function" in _names_bound_by_the_code(tree):
            return []                       # bound some other way (an alias): the run will tell
        return [_finding(TEST_FAILURE, "The code must define a function reward_function(params).")]
    function = definitions[-1]
    if isinstance(function, ast.AsyncFunctionDef):
        return [_finding(TEST_FAILURE, "reward_function must be a plain function, not async.", function.lineno)]
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    if len(positional) != 1 or arguments.vararg or arguments.kwarg or arguments.kwonlyargs:
        return [_finding(TEST_FAILURE, "reward_function must take exactly one parameter, params "
                                       f"(it takes {_describe_parameters(arguments)}).", function.lineno)]
    return []


def _describe_parameters(arguments: ast.arguments) -> str:
    names = [arg.arg for arg in arguments.posonlyargs + arguments.args]
    names += [f"*{arguments.vararg.arg}"] if arguments.vararg else []
    names += [arg.arg for arg in arguments.kwonlyargs]
    names += [f"**{arguments.kwarg.arg}"] if arguments.kwarg else []
    return ", ".join(names) if names else "none"


def _arity_errors(tree: ast.Module) -> list[dict]:
    """Calls to the code's own module-level functions with the wrong number of arguments (SPEC 1.3:
    "wrong call arity"). Only functions bound once, by their def, undecorated, called by name without
    *args/**kwargs: then the signature at the call is certain."""
    bound_once = _functions_bound_only_by_their_def(tree)
    errors = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in bound_once):
            continue
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(k.arg is None for k in node.keywords):
            continue
        problem = _call_problem(bound_once[node.func.id], len(node.args), [k.arg for k in node.keywords])
        if problem:
            errors.append(_finding(SYNTAX_ERROR, f"TypeError: {node.func.id}() {problem}", node.lineno))
    return errors


def _functions_bound_only_by_their_def(tree: ast.Module) -> dict[str, ast.arguments]:
    definitions: dict[str, list] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            definitions.setdefault(node.name, []).append(node)
    nested = {node.name for node in ast.walk(tree)
              if isinstance(node, ast.FunctionDef | ast.ClassDef) and node not in tree.body}
    return {name: nodes[0].args for name, nodes in definitions.items()
            if len(nodes) == 1 and not nodes[0].decorator_list and name not in nested
            and not _rebound(tree, name)}


def _rebound(tree: ast.Module, name: str) -> bool:
    """Is ``name`` bound anywhere other than by its module-level def (an assignment, a parameter, an
    import, a global statement in a function)?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store | ast.Del):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name).partition(".")[0] == name:
            return True
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
    return False


def _call_problem(arguments: ast.arguments, n_positional: int, keywords: list[str]) -> str | None:
    """What Python's TypeError would say about this call, or None when the call binds."""
    positional = [arg.arg for arg in arguments.posonlyargs + arguments.args]
    positional_only = {arg.arg for arg in arguments.posonlyargs}
    n_required = len(positional) - len(arguments.defaults)
    if n_positional > len(positional) and not arguments.vararg:
        return f"takes {len(positional)} positional argument{'s' * (len(positional) != 1)} but " \
               f"{n_positional} {'was' if n_positional == 1 else 'were'} given"
    keyword_only = {arg.arg: default is None for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                                                       strict=True)}
    for keyword in keywords:
        if keyword in positional[:n_positional]:
            return f"got multiple values for argument '{keyword}'"
        if (keyword in positional_only or keyword not in positional + list(keyword_only)) and not arguments.kwarg:
            return f"got an unexpected keyword argument '{keyword}'"
    missing = [name for name in positional[n_positional:n_required] if name not in keywords]
    missing += [name for name, required in keyword_only.items() if required and name not in keywords]
    if missing:
        return f"missing {len(missing)} required argument{'s' * (len(missing) != 1)}: " + ", ".join(
            f"'{name}'" for name in missing)
    return None


# --- dynamic checks --------------------------------------------------------------------------------

def _run_states(code: str, track: Track, race_type: dict | None, backend: str, timeout: float) -> list[dict]:
    """SPEC 1.3 step 4: a float within [-1e5, 1e5] on each synthetic state, 5 s each, in one sandbox
    that keeps the module's state between them as training would."""
    states = synthetic_states(track, race_type)
    failures: dict[tuple[str, int | None], list[str]] = {}
    try:
        sandbox = RewardSandbox(code, backend=backend, strict_float=True, call_timeout=timeout,
                                load_timeout=LOAD_TIMEOUT)
    except RewardFunctionError as error:
        during = "loading the code" if isinstance(error, RewardCodeError) else "starting the code"
        return [_finding(TEST_FAILURE, f"Failed while {during}: {_for_the_editor(error)}", error.line)]
    with sandbox:
        for name, params in states:
            try:
                sandbox(params)
            except RewardFunctionError as error:
                failures.setdefault((_for_the_editor(error), error.line), []).append(name)
    return [_finding(TEST_FAILURE, f"On the {_join(names)} state{'s' * (len(names) > 1)}: {message}", line)
            for (message, line), names in failures.items()]


def _for_the_editor(error: RewardFunctionError) -> str:
    """The error's message without what only matters to training (the sandbox restarting)."""
    return error.message.split("; the sandbox was stopped")[0]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def synthetic_states(track: Track, race_type: dict | None = None) -> list[tuple[str, dict]]:
    """The 5 params dicts of SPEC 1.3 on ``track``, built by the env's own params builder, carrying the
    race type's objects (empty lists for a time trial)."""
    builder = RewardParams(track)
    objects = race_objects(track, race_type)
    inner_side = 1.0 if track.direction == "counterclockwise" else -1.0    # inner border on the left
    states = []
    for name, state in SYNTHETIC_STATES:
        lateral = inner_side * state["inner"] * track.width
        x, y, heading = _rear_axle_pose(track, state["lap"] * track.length, lateral)
        params = builder.build(place_car(track, x, y, heading), steering_angle=state["steering_angle"],
                               speed=state["speed"], progress=state["progress"], steps=state["steps"],
                               is_offtrack=state.get("is_offtrack", False), sim_time=state["steps"] / 15,
                               objects=objects)
        if state.get("is_offtrack"):
            params["distance_from_center"] = params["track_width"]    # SPEC 1.3, exactly
        states.append((name, params))
    return states


def _rear_axle_pose(track: Track, distance: float, lateral: float) -> tuple[float, float, float]:
    """The rear-axle pose whose params point lies ``lateral`` m left of the centre line at ``distance``."""
    x, y, heading = track.pose_at(distance, lateral)
    return x - PARAMS_POINT_AHEAD * math.cos(heading), y - PARAMS_POINT_AHEAD * math.sin(heading), heading


def race_objects(track: Track, race_type: dict | None) -> list[TrackObject]:
    """Boxes or bot cars where the race type puts them: configured box positions as given, otherwise
    evenly spaced round the lap on alternating lanes."""
    kind = (race_type or {}).get("race_type", TIME_TRIAL)
    if kind == OBJECT_AVOIDANCE:
        positions = race_type.get("object_positions") or _spread(race_type.get("object_count",
                                                                                DEFAULT_OBJECT_COUNT))
        return [_on_lane(track, fraction, lane) for fraction, lane in positions]
    if kind == HEAD_TO_BOT:
        speed = float(race_type.get("bot_speed", DEFAULT_BOT_SPEED))
        return [_on_lane(track, fraction, lane, speed=speed, size=BOT_CAR_SIZE)
                for fraction, lane in _spread(race_type.get("bot_count", 1))]
    return []


def _spread(count: int) -> Iterable[tuple[float, str]]:
    return [((index + 1) / (count + 1), "inner" if index % 2 == 0 else "outer") for index in range(count)]


def _on_lane(track: Track, fraction: float, lane: str, **options) -> TrackObject:
    inner_side = 1.0 if track.direction == "counterclockwise" else -1.0
    lateral = (inner_side if lane == "inner" else -inner_side) * track.width / 4
    x, y, heading = track.pose_at(float(fraction) * track.length, lateral)
    return TrackObject(x, y, heading, **options)
