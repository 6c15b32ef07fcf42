"""The shape of the code (DESIGN.md), so that it cannot silently decay: the import-linter contracts of
pyproject.toml hold, no two modules import each other, and the apps are wired statically."""

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("console", "common", "garage", "models_app", "races", "training", "simulator")


def test_it_keeps_the_import_linter_contracts():
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                             "lint_imports_command()"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_it_has_no_two_modules_importing_each_other():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    mutual = sorted({tuple(sorted((module, other))) for module in graph.modules
                     for other in graph.find_modules_directly_imported_by(module)
                     if module in graph.find_modules_directly_imported_by(other)})
    assert mutual == []


def test_it_discovers_nothing_at_run_time():
    """Apps, URLs and websocket routes are listed, not found: no find_spec / import_module in the shell."""
    for path in (REPO / "console").glob("*.py"):
        text = path.read_text()
        assert "import_module" not in text and "find_spec(" not in text or path.name == "staticfinders.py", path
    for package in ("garage", "models_app", "races", "training"):
        assert "import_module" not in "".join(p.read_text() for p in (REPO / package).rglob("*.py")
                                              if p.name != "rollout_worker.py")


def test_it_places_every_module_of_the_split_apps_in_a_layer():
    """models_app and training are layered module by module: a new module must say where it belongs."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(contract for contract in config if contract["id"] == "layers")["layers"]
    named = {module.strip() for layer in layers for module in layer.replace("|", ":").split(":")}
    for package in ("models_app", "training"):
        for path in (REPO / package).iterdir():
            if path.name.startswith("__") or (path.suffix != ".py" and not (path / "__init__.py").is_file()):
                continue
            assert f"{package}.{path.stem}" in named, f"{package}.{path.stem}: add it to a layer in pyproject.toml"
