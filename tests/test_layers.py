"""The package layers: common ← registry ← edge / labeling ← harvest / retrain / central / scheduler ← dashboard ← cli.

Every import in ``footfall/`` (module level or inside a function) is read with ``ast``; a package may
import only its own modules and packages of a lower layer. Siblings of one layer do not import each
other, so each can change without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "footfall"
LAYERS = {
    "common": 0,
    "registry": 1,
    "edge": 2,
    "labeling": 2,
    "harvest": 3,
    "retrain": 3,
    "central": 3,  # the chain's PostgreSQL: ingest from devices (edge records), its read backend
    "scheduler": 3,  # runs harvest and retrain jobs as subprocesses: it imports neither
    "dashboard": 4,  # one store's SQLite or the chain's central store
    "": 5,  # footfall/cli.py, footfall/config_reference.py: the command line over every part
}


def part_of(module: str) -> str:
    """``footfall.edge.store`` → ``edge``; the top-level modules of ``footfall`` → ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""


def imports(path: Path, package_dir: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module) of every ``footfall`` import in a file, relative imports resolved."""
    package = list(path.relative_to(package_dir.parent).parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "footfall"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] == "footfall":
                out.append((node.lineno, module))
    return out


def edges(package_dir: Path = PACKAGE) -> list[tuple[str, int, str, str]]:
    """(file, line, importing part, imported part) for every import across parts."""
    out = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        mine = part_of(".".join(rel.parts))
        for lineno, module in imports(path, package_dir):
            theirs = part_of(module)
            if theirs != mine:
                out.append((str(rel), lineno, mine, theirs))
    return out


def test_every_part_has_a_layer() -> None:
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert found == set(LAYERS) - {""}, f"give each package a layer in LAYERS: {sorted(found ^ (set(LAYERS) - {''}))}"


def test_no_import_goes_up_or_sideways() -> None:
    bad = [
        f"{file}:{line}: {mine or 'footfall'} (layer {LAYERS[mine]}) imports {theirs or 'footfall'} "
        f"(layer {LAYERS[theirs]})"
        for file, line, mine, theirs in edges()
        if LAYERS[theirs] >= LAYERS[mine]
    ]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "part"),
    [("footfall.edge.store", "edge"), ("footfall.common", "common"), ("footfall.cli", ""), ("footfall", "")],
)
def test_part_of(module: str, part: str) -> None:
    assert part_of(module) == part


def test_the_check_sees_back_edges_in_functions_and_relative_imports(tmp_path: Path) -> None:
    """The reader finds imports inside functions (where the runtime's lazy imports live) and relative ones."""
    common = tmp_path / "footfall" / "common"
    common.mkdir(parents=True)
    (common / "probe.py").write_text("def f():\n    from footfall.edge.store import CountStore\n")
    (common / "probe2.py").write_text("from ..registry import core\n")
    found = sorted((m, t) for _, _, m, t in edges(tmp_path / "footfall"))
    assert found == [("common", "edge"), ("common", "registry")]
