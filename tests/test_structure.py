"""The layers hold: the core (``zwaudit/`` without ``zwaudit/app/``) is a ground floor that
imports nothing above it, and no string import hides an arrow.

Read from the source (every ``import``, including those inside functions and under
``TYPE_CHECKING``), not from what happens to be imported at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zwaudit", "probes", "crawler", "scoring", "sandbox")

#: The only places that import a module by a name held in data, and why they may:
#: the check registry's ``module:Class`` (``config/checks.yaml`` declares the arrow: a plugin
#: seam, as Scrapy's component paths are) and the CLI's lazy subcommand list (app → app).
STRING_IMPORT_SEAMS = {"zwaudit/checks.py", "zwaudit/app/cli/__init__.py"}


def sources(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_core(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return parts[0] == "zwaudit" and parts[1] != "app"


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``; ``from a import b`` also yields ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_core_imports_neither_the_application_nor_the_parts_above_it() -> None:
    bad = [
        f"{rel(p)}:{line} imports {module}"
        for p in sources("zwaudit")
        if is_core(p)
        for line, module in imported(p)
        if under(module, "zwaudit.app", "probes", "crawler", "scoring", "sandbox")
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["probes", "crawler", "scoring", "sandbox"])
def test_no_part_imports_the_application(package: str) -> None:
    bad = [
        f"{rel(p)}:{line} imports {module}"
        for p in sources(package)
        for line, module in imported(p)
        if under(module, "zwaudit.app")
    ]
    assert not bad, "\n".join(bad)


def test_the_crawler_does_not_import_the_checks_and_catalogue_checks_use_no_scrapy() -> None:
    """Crawl-based checks judge stored catalogue data (``probes/catalogue``); the crawler only
    gathers it. Neither side needs the other's machinery."""
    crawler_bad = [
        f"{rel(p)}:{line} imports {module}"
        for p in sources("crawler")
        for line, module in imported(p)
        if under(module, "probes", "scoring")
    ]
    catalogue_bad = [
        f"{rel(p)}:{line} imports {module}"
        for p in sorted((ROOT / "probes" / "catalogue").rglob("*.py"))
        for line, module in imported(p)
        if under(module, "scrapy", "scrapy_playwright", "twisted")
    ]
    assert not crawler_bad and not catalogue_bad, "\n".join(crawler_bad + catalogue_bad)


def test_no_string_import_hides_an_arrow() -> None:
    found = []
    for package in PACKAGES:
        for p in sources(package):
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    fn = node.func
                    name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                    if name in ("import_module", "__import__"):
                        found.append(rel(p))
    assert set(found) <= STRING_IMPORT_SEAMS, sorted(set(found) - STRING_IMPORT_SEAMS)


def test_the_string_import_seams_still_exist() -> None:
    """Keep the allow-list honest: a seam that no longer imports by name leaves the list."""
    for seam in STRING_IMPORT_SEAMS:
        assert "import_module(" in (ROOT / seam).read_text(encoding="utf-8"), seam


def test_one_browser_module() -> None:
    """The probes' browser (``zwaudit/browser.py``) and the crawler's rendering download handler
    (``crawler/rendering.py``) were both ``browser.py``; one name, one thing."""
    found = [rel(p) for package in PACKAGES for p in sources(package) if p.name == "browser.py"]
    assert found == ["zwaudit/browser.py"]
