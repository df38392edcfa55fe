"""The page's catalogue (app/static/js/labels.js) names exactly what the library and the API can produce.

labels.js is loaded as the ES module the browser runs (with node: the system one, else the one bundled
with the Playwright dev dependency) and its exported objects are compared with the Python sources of
truth, so that a new measure, area, band, warning, reason or error code cannot reach the page without
a label, and a label cannot outlive its code.

The API's error codes are found by reading app/ itself (an AST scan of every module), not a list kept
here: the literal `code` given to `ApiError`, `ServiceUnavailable` and `error_response`, and the
`_HTTP_CODES` table, wherever those live in app/.
"""

from __future__ import annotations

import ast
import itertools
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

from posture.errors import ErrorCode, WarningCode
from posture.measures import MEASURE_NAMES
from posture.result import Band
from posture.scoring import AREAS

from .conftest import node_executable

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
MEASURES_PKG = ROOT / "posture" / "measures"
STATIC_JS = APP / "static" / "js"
LABELS_JS = STATIC_JS / "labels.js"

# Codes the page makes up itself (no server answers them): each must still be produced by the page's
# own code (checked below), so that a label cannot outlive these either.
CLIENT_ONLY_CODES = {
    "network_error",  # api.js: fetch or XHR failed before any answer (server down, offline)
    "cancelled",  # api.js: the user aborted an upload
    "recording_failed",  # capture_clip.js: MediaRecorder refused to start on the camera's stream
}

# Where the service answers an error, and which argument is the code.
_CODE_ARGUMENT = {"ApiError": (1, "code"), "error_response": (1, "code"), "ServiceUnavailable": (0, "code")}


@cache
def _labels() -> dict[str, Any]:
    """Every exported object of labels.js (functions left out), as JSON through node."""
    script = (
        "const m = await import(process.argv[1]);"
        "const out = {};"
        "for (const [k, v] of Object.entries(m)) if (typeof v !== 'function') out[k] = v;"
        "process.stdout.write(JSON.stringify(out));"
    )
    done = subprocess.run(
        [node_executable(), "--input-type=module", "-e", script, LABELS_JS.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"node could not load labels.js:\n{done.stderr}"
    return json.loads(done.stdout)


@dataclass(frozen=True)
class _Module:
    path: Path
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    def functions_around(self, node: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
        """The functions `node` is in, innermost first."""
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield node


@cache
def _modules(folder: Path) -> tuple[_Module, ...]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        found.append(_Module(path, tree, parents))
    return tuple(found)


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _strings(node: ast.expr, module: _Module) -> set[str]:
    """Every string an expression can take, when it is built from literals: a literal, `a if c else b`,
    an f-string of those, or a name bound to those (a parameter, through the function's callers in
    app/; a loop over a literal tuple; an assignment)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, module) | _strings(node.orelse, module)
    if isinstance(node, ast.JoinedStr):
        parts = [
            {str(part.value)} if isinstance(part, ast.Constant) else _strings(part.value, module)
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        ]
        return {"".join(chosen) for chosen in itertools.product(*parts)}
    if isinstance(node, ast.Name):
        for func in module.functions_around(node):
            if node.id in [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]:
                return _parameter_values(func, node.id)
        values = _bound_values(node.id, module)
        if values:
            return values
    raise AssertionError(f"{module.where(node)}: cannot tell which strings {ast.unparse(node)} can be")


def _parameter_values(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> set[str]:
    """What is passed for parameter `name` of `func` at its call sites anywhere in app/."""
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    index = params.index(name) if name in params else len(params) + 10**6  # keyword-only: by name
    values: set[str] = set()
    for module in _modules(APP):
        for call in ast.walk(module.tree):
            if isinstance(call, ast.Call) and _call_name(call) == func.name:
                arg = _argument(call, index, name)
                assert arg is not None, f"{module.where(call)}: no {name} given to {func.name}"
                values |= _strings(arg, module)
    assert values, f"{func.name} is never called, so its {name} cannot be known"
    return values


def _bound_values(name: str, module: _Module) -> set[str]:
    """The strings `name` is bound to in `module` by `for ... in (literals)` or `name = ...`."""
    values: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple | ast.List):
            if isinstance(node.target, ast.Name) and node.target.id == name:
                values |= set().union(*(_strings(item, module) for item in node.iter.elts))
            elif isinstance(node.target, ast.Tuple):
                names = [t.id if isinstance(t, ast.Name) else None for t in node.target.elts]
                if name in names:
                    i = names.index(name)
                    for item in node.iter.elts:
                        assert isinstance(item, ast.Tuple), f"{module.where(item)}: expected a tuple"
                        values |= _strings(item.elts[i], module)
        elif name in _assigned(node):
            assert isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            values |= _strings(node.value, module)
    return values


def _assigned(node: ast.AST) -> set[str]:
    """The plain names an assignment statement binds (none for any other node)."""
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


@cache
def _api_codes() -> frozenset[str]:
    """Every error code the service answers with, read from app/'s source."""
    codes: set[str] = set()
    tables = 0
    for module in _modules(APP):
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and _call_name(node) in _CODE_ARGUMENT:
                arg = _argument(node, *_CODE_ARGUMENT[_call_name(node)])
                # A code passed on (`exc.code`, a library ErrorCode, a table entry) is counted at its source.
                if arg is not None and not isinstance(arg, ast.Name | ast.Attribute):
                    codes |= _strings(arg, module)
            if "_HTTP_CODES" in _assigned(node):
                assert isinstance(node.value, ast.Dict), f"{module.where(node)}: _HTTP_CODES is not a dict"
                for entry in node.value.values:
                    assert isinstance(entry, ast.Tuple), f"{module.where(entry)}: expected (code, message)"
                    codes |= _strings(entry.elts[0], module)
                tables += 1
    assert tables == 1, f"expected one _HTTP_CODES table in app/, found {tables}"
    return frozenset(codes)


def _overall_name() -> str:
    """The trends' name for the overall score (a module's `OVERALL = "..."`, in posture/ or app/)."""
    found = set()
    for module in (*_modules(ROOT / "posture"), *_modules(APP)):
        for node in module.tree.body:
            if "OVERALL" in _assigned(node):
                found |= _strings(node.value, module)
    assert len(found) == 1, f"expected one OVERALL name, found {sorted(found)}"
    return found.pop()


def _not_measured_reasons() -> set[str]:
    """Every reason passed to `Measurement.missing(...)` in posture/measures/."""
    reasons: set[str] = set()
    for module in _modules(MEASURES_PKG):
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and _call_name(node) == "missing" and node.args:
                reasons |= _strings(node.args[0], module)
    assert reasons, "no Measurement.missing(...) found: has the way reasons are written changed?"
    return reasons


def _same_keys(labelled: dict[str, Any], expected: set[str], what: str) -> None:
    missing = sorted(expected - labelled.keys())
    stale = sorted(labelled.keys() - expected)
    assert not missing and not stale, f"{what} in labels.js: unlabelled {missing}, labels for no code {stale}"
    empty = sorted(k for k, v in labelled.items() if not v)
    assert not empty, f"{what} in labels.js with an empty label: {empty}"


def test_measures_have_label_unit_and_hint() -> None:
    measures = _labels()["MEASURES"]
    _same_keys(measures, {*MEASURE_NAMES, _overall_name()}, "MEASURES")
    for name, meta in measures.items():
        assert meta.get("label") and meta.get("hint"), f"{name}: label and hint are both needed"
        assert isinstance(meta.get("decimals"), int) and isinstance(meta.get("unit"), str), name
        # The unit shown must be the one the name promises (units are in the names, by rule).
        if name.endswith("_deg"):
            assert meta["unit"] == "°", name
        elif name.endswith("_pct"):
            assert meta["unit"] == "%", name


def test_measure_groups_show_every_measure_once() -> None:
    labels = _labels()
    grouped = [name for group in labels["MEASURE_GROUPS"] for name in group["names"]]
    # The analysis and comparison tables list the grouped measures only: an ungrouped one is not shown.
    assert sorted(grouped) == sorted(MEASURE_NAMES)
    assert all(group["title"] for group in labels["MEASURE_GROUPS"])
    assert set(labels["KEY_TRENDS"]) <= set(MEASURE_NAMES)


def test_areas_and_bands() -> None:
    labels = _labels()
    _same_keys(labels["AREAS"], set(AREAS), "AREAS")
    assert all(meta.get("label") for meta in labels["AREAS"].values())
    _same_keys(labels["BANDS"], set(get_args(Band)), "BANDS")


def test_warnings() -> None:
    _same_keys(_labels()["WARNINGS"], {code.value for code in WarningCode}, "WARNINGS")


def test_not_measured_reasons() -> None:
    _same_keys(_labels()["NOT_MEASURED"], _not_measured_reasons(), "NOT_MEASURED")


def test_error_codes() -> None:
    server = {code.value for code in ErrorCode} | _api_codes()
    assert not server & CLIENT_ONLY_CODES, "a client-only code is now a server code: drop it from the list"
    _same_keys(_labels()["ERROR_TITLES"], server | CLIENT_ONLY_CODES, "ERROR_TITLES")


def test_client_only_codes_are_still_made_by_the_page() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in STATIC_JS.rglob("*.js") if p != LABELS_JS)
    gone = sorted(code for code in CLIENT_ONLY_CODES if f'"{code}"' not in sources)
    assert not gone, f"no page code makes {gone} any more: remove them from labels.js and this test"


def test_api_code_scan_finds_known_codes() -> None:
    # Guards the scan itself: one code of each way the service answers an error.
    assert {"subject_not_found", "busy", "request_too_large", "not_found", "photo_not_stored"} <= _api_codes()


def test_camera_level_words_follow_the_rules() -> None:
    """The page's hint threshold is the rules file's, and every `camera_level.source` has words."""
    from typing import get_args

    from posture.result import CameraLevel
    from posture.rules import load_rules

    level = _labels()["CAMERA_LEVEL"]
    assert level["hint_deg"] == load_rules()["camera_level"]["hint_deg"]
    sources = set(get_args(CameraLevel.model_fields["source"].annotation))
    _same_keys(level["sources"], sources, "camera level sources")
