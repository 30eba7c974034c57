"""The documentation site: built strictly (no broken link, anchor or omitted page) and opened offline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import offline_chromium, open_page, served

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_results import latest  # noqa: E402

PLOTTED = {"silver-quality", "silver-speed"}  # the benchmarks whose section has a plot


@pytest.fixture(scope="module")
def site(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict` into a temporary folder; any warning (a broken link or anchor, a page missing
    from the navigation) fails it."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=project_root, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from offline_chromium()


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    with served(site) as url:
        yield url


def test_the_references_are_generated_from_the_code(site: Path) -> None:
    from c360.config_schema import config_schema
    from c360.table_registry import TABLES

    configuration = (site / "reference" / "configuration.html").read_text()
    linkage = config_schema()["$defs"]["LinkageSettings"]["properties"]
    assert all(f"<code>{key}</code>" in configuration for key in linkage)
    tables = (site / "reference" / "tables.html").read_text()
    assert all(f'id="{t.name.replace(".", "-").replace("_", "-")}"' in tables for t in TABLES)


def test_nothing_is_loaded_from_the_network(site: Path) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "fonts.googleapis" not in text and "cdn." not in text and "unpkg.com" not in text, page


@pytest.mark.parametrize("page", ["index.html", "reference/configuration.html", "benchmarks.html"])
def test_three_pages_open_offline(base_url: str, browser: object, page: str) -> None:
    plots = "document.querySelectorAll('.c360-plot')"
    drawn = (f"return document.readyState === 'complete' && [...{plots}].every(p => p.querySelector('svg.main-svg'));")
    errors, failed = open_page(browser, base_url + page, drawn)
    assert browser.execute_script(drawn), f"{page}: a plot drew nothing"  # type: ignore[attr-defined]
    assert not errors, errors
    assert not failed, failed
    if page == "benchmarks.html" and PLOTTED & set(latest()):  # a result with a plot is committed: it is drawn
        assert browser.execute_script(f"return {plots}.length") >= 1  # type: ignore[attr-defined]
