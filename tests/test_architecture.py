"""The shape of the code, kept: dependency direction, package docstrings and APIs,
small folders and modules (issue 9)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "redirector", "certs", "proxy")
# What each top-level package may import of ours (besides itself).
ALLOWED = {"config": set(), "redirector": {"config"}, "certs": {"config"}, "proxy": set(PACKAGES)}
MAX_MODULES = 12
MAX_LINES = 400


def modules(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package: str) -> None:
    wrong = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) - ALLOWED[package] - {package})
        for path in modules(package)
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_every_package_says_what_it_holds_and_exports_a_curated_api() -> None:
    for init in modules(*PACKAGES):
        if init.name != "__init__.py":
            continue
        tree = ast.parse(init.read_text("utf-8"))
        assert ast.get_docstring(tree), f"{init.relative_to(REPO)}: no docstring"
        names = {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        assert "__all__" in names, f"{init.relative_to(REPO)}: no __all__"


def test_folders_and_modules_stay_small() -> None:
    folders: dict[Path, int] = {}
    for path in modules(*PACKAGES, "tests", "bench"):
        if path.name != "__init__.py":
            folders[path.parent] = folders.get(path.parent, 0) + 1
        lines = len(path.read_text("utf-8").splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(REPO)}: {lines} lines"
    crowded = {str(f.relative_to(REPO)): n for f, n in folders.items() if n > MAX_MODULES}
    assert crowded == {}
