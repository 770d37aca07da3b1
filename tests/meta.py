"""Meta-test helpers: every part registered in a registry must have a test of its own."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from kemm.registry import Registry, normalize_name


def case_names(package: ModuleType, base: type, attribute: str = "name") -> set[str]:
    """Values of ``attribute`` of every subclass of ``base`` defined in the test modules of ``package``."""
    names = set()
    for mod in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        m = importlib.import_module(mod.name)
        for _, obj in inspect.getmembers(m, inspect.isclass):
            if issubclass(obj, base) and getattr(obj, attribute, None):
                names.add(getattr(obj, attribute))
    return names


def assert_every_part_tested(registry: Registry, tested: Iterable[str]) -> None:
    """Fail naming the registered parts that ``tested`` (names as registered, or aliases) does not cover."""
    covered = {normalize_name(n) for n in tested}
    missing = sorted(n for n in registry.names() if normalize_name(n) not in covered)
    assert not missing, f"registered {registry.kind}(s) without a test of their own: {missing}"
    unknown = sorted(n for n in tested if n not in registry)
    assert not unknown, f"tests name {registry.kind}(s) that are not registered: {unknown}"


def scan_kemm(check: Callable[[ast.AST], list[str]]) -> list[str]:
    """``"path line N: call"`` for every hit of ``check`` (a parsed module -> hits) in kemm's source."""
    root = Path(__file__).resolve().parents[1] / "kemm"
    return [
        f"{p.relative_to(root.parent)} {hit}"
        for p in sorted(root.rglob("*.py"))
        for hit in check(ast.parse(p.read_text(encoding="utf-8")))
    ]
