"""The layout rules a newcomer relies on, checked on the source tree (no Dagster run needed).

ace_core is a library without Dagster; modules stay small; only ``ace_core.viz`` draws; asset modules get
their paths from the store resource; private Dagster APIs are used in one helper; assets stay thin and
resolve their line once; comments cite nothing outside the repository.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
MAX_ASSET_LINES = 25
ASSET_MODULES = sorted((ROOT / "ace_assets" / "assets").glob("*.py"))


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_ace_core_never_imports_dagster():
    offenders = [
        (_rel(p), m)
        for p in _python_files("ace_core")
        for m in _imported_modules(p)
        if m.split(".")[0] == "dagster" or m.startswith("dagster_")
    ]
    assert offenders == []


def test_only_viz_draws():
    offenders = [
        (_rel(p), m)
        for p in _python_files("ace_core")
        for m in _imported_modules(p)
        if m.split(".")[0] == "matplotlib" and "viz" not in p.relative_to(ROOT).parts
    ]
    assert offenders == []


def test_no_ace_core_module_exceeds_the_size_limit():
    sizes = {_rel(p): len(p.read_text().splitlines()) for p in _python_files("ace_core")}
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert too_big == {}, f"modules over {MAX_MODULE_LINES} lines"


# A store path built by hand: a ".zarr" suffix, the store root, a path join or the path function itself.
_HAND_BUILT_PATH = re.compile(r"\.zarr\b|store_path|product_path\(|joinpath\(|\bPath\(|/\s*f?[\"'][^\"']*\{")


@pytest.mark.parametrize("module", [*ASSET_MODULES, ROOT / "ace_assets" / "checks.py"], ids=_rel)
def test_asset_modules_do_not_build_store_paths(module):
    hits = [
        f"{_rel(module)}:{n}: {line.strip()}"
        for n, line in enumerate(module.read_text().splitlines(), start=1)
        if _HAND_BUILT_PATH.search(line)
    ]
    assert hits == []


def test_private_dagster_apis_are_confined_to_one_helper():
    allowed = ROOT / "ace_assets" / "helpers" / "dagster_internals.py"
    offenders = [
        (_rel(p), m)
        for p in _python_files("ace_core", "ace_assets", "tests", "scripts", "bench")
        for m in _imported_modules(p)
        if m.startswith("dagster._") and p != allowed
    ]
    assert offenders == []


def _asset_functions(module: Path) -> list[ast.FunctionDef]:
    """Functions decorated with ``dg.asset`` or ``dg.multi_asset``."""
    tree = ast.parse(module.read_text(), filename=str(module))
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Attribute) and target.attr in {"asset", "multi_asset"}:
                    found.append(node)
    return found


def _body_lines(fn: ast.FunctionDef) -> int:
    body = fn.body[1:] if ast.get_docstring(fn) else fn.body
    return body[-1].end_lineno - body[0].lineno + 1


def test_assets_are_thin_and_resolve_their_line_once():
    functions = [(m, fn) for m in ASSET_MODULES for fn in _asset_functions(m)]
    assert len(functions) >= 20  # every product (the observable sources are built by factories)
    for module, fn in functions:
        where = f"{_rel(module)}:{fn.name}"
        assert _body_lines(fn) <= MAX_ASSET_LINES, f"{where}: {_body_lines(fn)} lines"
        line_calls = [
            node
            for node in ast.walk(fn)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "line"
        ]
        assert len(line_calls) <= 1, f"{where} resolves its line {len(line_calls)} times"


def test_checks_live_in_one_module():
    decorated = [
        _rel(p)
        for p in _python_files("ace_assets")
        if "asset_check(" in p.read_text() and p.name != "checks.py"
    ]
    assert decorated == []


# Document references that do not resolve inside the repository.
_OUTSIDE_REFERENCE = re.compile(
    r"\bdefect \d|\bdefects? \(?\d|reference \d|reference section|\bsection \d|\bpitfall\b|\(P\d+\)|\bP\d+\b"
)


def _prose(path: Path):
    """(line, text) of every comment and string literal (docstrings included) of a module."""
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            yield tok.start[0], tok.string


def test_comments_cite_nothing_outside_the_repository():
    hits = [
        f"{_rel(path)}:{n}: {text.strip()[:80]}"
        for path in _python_files("ace_core", "ace_assets")
        for n, text in _prose(path)
        if _OUTSIDE_REFERENCE.search(text)
    ]
    assert hits == []
