"""The rule of the layers (docs/architecture.md), checked on the source: every import statement of every
module, including those inside functions, which a look at the top of a file would miss."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which app layers each layer may import (besides itself, the library and third-party packages).
# The entry points (app.main, app.cli) and the shared JSON contract (app.schemas) sit outside.
APP_LAYERS: dict[str, set[str]] = {
    "core": set(),
    "storage": {"core"},
    "services": {"core", "storage", "schemas"},
    "api": {"core", "storage", "services", "schemas"},
}


def _imports(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in `path`, relative ones resolved against its
    package (by default the one its place under the repository says)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = ".".join(path.relative_to(ROOT).parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from app import storage` imports the submodule app.storage
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_scan_sees_imports_inside_functions_and_relative_ones(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from app.storage import repository\n    from ...core import db\n")
    found = _imports(probe, package="app.services.sub")
    assert (2, "app.storage.repository") in found and (3, "app.core.db") in found


def test_the_library_imports_nothing_from_the_service():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in _modules("posture")
        for line, module in _imports(path)
        if module == "app" or module.startswith("app.")
    ]
    assert not offenders, "posture/ must not import app/:\n" + "\n".join(offenders)


@pytest.mark.parametrize("layer", list(APP_LAYERS))
def test_each_service_layer_imports_only_the_layers_below(layer):
    allowed = APP_LAYERS[layer] | {layer}
    offenders = []
    for path in _modules(f"app/{layer}"):
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "app" or len(parts) < 2:
                continue
            if parts[1] in {"main", "cli", "schemas", *APP_LAYERS} and parts[1] not in allowed:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert not offenders, f"app/{layer} may import only {sorted(allowed)}:\n" + "\n".join(offenders)


def test_every_app_module_lives_in_a_layer():
    """New modules go into a layer; only the entry points and the shared schemas sit at the top."""
    top = sorted(p.name for p in (ROOT / "app").glob("*.py"))
    assert top == ["__init__.py", "cli.py", "main.py", "schemas.py"], top
