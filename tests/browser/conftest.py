"""Fixtures of the browser tests: one JupyterLab server and one headless Chromium per session.

The tests open notebooks in a real JupyterLab, click Run > Run All Cells, and check that the
figures render and the ipywidgets explorers redraw them. They need Debian's ``chromium`` and the
``playwright`` Python package (``scripts/install_browser_deps.sh`` installs both). Without them
every browser test is skipped, LOUDLY (a warning and a banner at the end of the run);
``CONTRASTKIT_REQUIRE_BROWSER=1`` turns that skip into a failure.

Environment knobs: ``CONTRASTKIT_BROWSER_OUT`` (screenshots; default ``results/browser``),
``CONTRASTKIT_CHROMIUM`` (default ``/usr/bin/chromium``), ``CONTRASTKIT_BROWSER_RUN_TIMEOUT``
(seconds for one Run All), ``CONTRASTKIT_BROWSER_UPDATE_TIMEOUT`` (seconds for a redraw).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import labdriver as ld
import pytest

HERE = Path(__file__).resolve().parent
MISSING = ld.missing_dependencies()
REQUIRE = os.environ.get("CONTRASTKIT_REQUIRE_BROWSER") == "1"
OUT = ld.OUT
_skipped_for_missing: list[str] = []


class BrowserTestsSkipped(UserWarning):
    """The browser tests could not run on this machine."""


def _loud(missing: list[str]) -> str:
    bar = "#" * 78
    lines = [
        bar,
        "## BROWSER TESTS SKIPPED: this machine lacks " + "; ".join(missing),
        "## Nothing checked that the notebooks' figures and widgets work in a real browser.",
        "## Install: scripts/install_browser_deps.sh (Debian 'chromium' + pip 'playwright';",
        "## never 'playwright install'). CONTRASTKIT_REQUIRE_BROWSER=1 makes this an error.",
        bar,
    ]
    return "\n".join(lines)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:  # every test under tests/browser is a browser test
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter):
    if _skipped_for_missing:
        terminalreporter.write_line("")
        for line in _loud(MISSING).splitlines():
            terminalreporter.write_line(line, red=True, bold=True)


@pytest.fixture(scope="session")
def browser_deps():
    """Skip (loudly) or fail when Chromium or Playwright is missing."""
    if MISSING:
        message = _loud(MISSING)
        _skipped_for_missing.append(message)
        if REQUIRE:
            pytest.fail(message, pytrace=False)
        warnings.warn(message, BrowserTestsSkipped, stacklevel=1)
        pytest.skip(message)


@pytest.fixture(scope="session")
def lab_server(browser_deps, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 over a temporary copy of notebooks/."""
    server = ld.LabServer(tmp_path_factory.mktemp("jupyterlab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium(browser_deps, tmp_path_factory):
    """Headless system Chromium driven by Playwright (no browser download, ever). Its config
    and cache folders (crash-report database included) are temporary, not the user's."""
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home)}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(ld.CHROMIUM), headless=True, args=ld.CHROMIUM_ARGS, env=env
        )
        yield browser
        browser.close()


@dataclass
class OpenNotebook:
    path: str
    page: object  # playwright Page
    result: ld.RunResult

    def screenshot(self, name: str, locator=None, tight: bool = True) -> Path:
        """The viewport, or the region of ``locator`` and everything drawn inside it (a plot
        may overflow its output box)."""
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / name
        if locator is None:
            self.page.screenshot(path=str(path))
        else:
            locator.evaluate(
                "el => el.scrollIntoView({block: "
                "el.getBoundingClientRect().height < innerHeight ? 'center' : 'start'})"
            )
            self.page.mouse.move(1, 1)
            self.page.wait_for_timeout(300)
            clip = ld.region(locator, tight=tight)
            self.page.screenshot(path=str(path), clip=clip)
        return path


class LabNotebooks:
    """Opens a notebook and runs all its cells once per session; keeps one open at a time."""

    def __init__(self, server: ld.LabServer, browser):
        self.server, self.browser = server, browser
        self.current: OpenNotebook | None = None
        self.results: dict[str, ld.RunResult] = {}
        self.failures: dict[str, str] = {}
        self.responsive: set[str] = set()  # notebooks whose explorers passed the slider test

    def open(self, path: str) -> OpenNotebook:
        if self.current is not None and self.current.path == path:
            return self.current
        if path in self.failures:
            pytest.fail(f"{path}: {self.failures[path]} (see the first test of this notebook)")
        self.close()
        # sharper screenshots when they are for the docs (CONTRASTKIT_UPDATE_DOCS=1)
        scale = 2 if os.environ.get("CONTRASTKIT_UPDATE_DOCS") == "1" else 1
        page = self.browser.new_page(viewport=ld.VIEWPORT, device_scale_factor=scale)
        console: list[str] = []
        page.on(
            "console",
            lambda m: console.append(f"{m.type}: {m.text[:300]}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: console.append(f"page error: {str(e)[:300]}"))
        try:
            ld.open_notebook(page, self.server, path)
            seconds = ld.run_all_cells(page)
        except Exception as err:
            self.failures[path] = f"could not open and run in JupyterLab: {err}"
            name = Path(path).stem + "_failed.png"
            OUT.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUT / name))
            page.close()
            self.server.shutdown_kernels()
            raise AssertionError(
                f"{self.failures[path]}\nscreenshot: {OUT / name}\nserver log:\n{self.server.log()}"
            ) from err
        result = ld.summarize(page, path, seconds, console)
        self.results[path] = result
        self.current = OpenNotebook(path, page, result)
        self._overview(self.current)
        return self.current

    def _overview(self, nb: OpenNotebook) -> None:
        """A screenshot per checked notebook: its first control (or its top) in view."""
        control = nb.page.locator(".jp-Notebook .widget-slider, .jp-Notebook .widget-dropdown")
        if control.count():
            control.first.scroll_into_view_if_needed()
            nb.page.mouse.move(1, 1)
            nb.page.wait_for_timeout(300)
        nb.screenshot(Path(nb.path).stem + ".png")

    def result(self, path: str) -> ld.RunResult:
        """The run's summary, running the notebook only when it has not run yet."""
        if path in self.results:
            return self.results[path]
        return self.open(path).result

    def close(self) -> None:
        if self.current is not None:
            self.current.page.close()
            self.server.shutdown_kernels()
            self.current = None


@pytest.fixture(scope="session")
def lab_notebooks(lab_server, chromium):
    notebooks = LabNotebooks(lab_server, chromium)
    yield notebooks
    notebooks.close()
