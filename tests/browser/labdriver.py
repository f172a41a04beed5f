"""Drive JupyterLab in headless Chromium: a throw-away server, a notebook, "Run All Cells".

Used by ``tests/browser`` (the fixtures live in ``conftest.py``). Everything stays on
127.0.0.1: a JupyterLab server started from this Python on a free loopback port, with its own
token and its own settings, workspaces, runtime, config and data folders (the user's Jupyter
setup is never read or written), serving a temporary copy of ``notebooks/`` (running cells never
writes outputs into the repository's notebooks), driven by Playwright through the system's
Chromium (``/usr/bin/chromium``; Playwright's own browser builds are never downloaded).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
OFFLINE_GUARD = REPO / "tools" / "offline"  # sitecustomize: kernels refuse non-loopback sockets
CHROMIUM = Path(os.environ.get("CONTRASTKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Screenshots of every checked notebook and explorer, for a reviewer to look at.
OUT = Path(os.environ.get("CONTRASTKIT_BROWSER_OUT") or REPO / "results" / "browser")
VIEWPORT = {"width": 1400, "height": 1000}
# Seconds one "Run All Cells" may take (quick mode: ~45 s on 2 idle cores, 10 min on busy ones).
RUN_TIMEOUT_S = float(os.environ.get("CONTRASTKIT_BROWSER_RUN_TIMEOUT", "1200"))
# Seconds a figure has to redraw after a slider moves (the kernel is idle by then; ~0.1-2 s
# measured, up to 2 s with the 2 cores under heavy load).
UPDATE_TIMEOUT_S = float(os.environ.get("CONTRASTKIT_BROWSER_UPDATE_TIMEOUT", "5"))

# Settings of the throw-away JupyterLab: no autosave (outputs are never written back), every
# cell in the DOM (no virtual scrolling: every figure really renders), no news/update checks.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def missing_dependencies() -> list[str]:
    """What the browser tests need and this machine lacks (empty when all is there)."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium (no executable at {CHROMIUM}; Debian package 'chromium')")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append(f"the 'playwright' Python package (not importable by {sys.executable})")
    return missing


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server on 127.0.0.1 serving a temporary copy of ``notebooks``."""

    def __init__(self, workdir: Path, notebooks: Path = NOTEBOOKS):
        self.workdir = Path(workdir)
        self.root = self.workdir / "notebooks"
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        folders = {
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",  # no user kernelspecs: the kernel is this Python's
            "IPYTHONDIR": "ipython",  # no user startup files in the kernel
        }
        for var, name in folders.items():
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
            env[var] = str(self.workdir / name)
        for name, settings in LAB_SETTINGS.items():
            path = self.workdir / "lab-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        env.pop("CONTRASTKIT_RESULTS_DIR", None)  # a browser run records no claims
        env.pop("JUPYTER_TOKEN", None)
        env["CONTRASTKIT_NO_NETWORK"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            [str(OFFLINE_GUARD)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, timeout: float = 180.0) -> LabServer:
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: kernel state, commands
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",  # never asks PyPI about extensions
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            cmd,
            env=self._env(),
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"JupyterLab exited early (code {code}):\n{self.log()}")
            try:
                self.api("GET", "/api/status")
                return self
            except OSError:  # URLError and ConnectionError are OSErrors
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def api(self, method: str, path: str, timeout: float = 10.0):
        req = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except OSError:
            pass

    def lab_url(self, notebook: str) -> str:
        # A fresh workspace per page, reset: the page shows exactly this notebook.
        ws = "t" + secrets.token_hex(4)
        return f"{self.url}/lab/workspaces/{ws}/tree/{notebook}?reset&token={self.token}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.shutdown_kernels()
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


# ----------------------------------------------------------------------------------------------
# The notebook in the page

_NB = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
_KERNEL_JS = "window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel"


@dataclass
class RunResult:
    """What "Run All Cells" left on the page."""

    notebook: str
    seconds: float
    code_cells: int
    executed_cells: int
    errors: list[str]  # error outputs (tracebacks), shortened
    widget_errors: list[str]  # "Error displaying widget" and the like
    loading_widgets: int  # widgets still showing "Loading widget..."
    plotly_outputs: int  # outputs of the notebook's model that carry a plotly figure
    plotly_rendered: int  # those drawn by JupyterLab's plotly renderer
    widget_figures: int  # plotly figures drawn inside ipywidgets (FigureWidget)
    blank_figures: int  # plotly graphs without a drawn trace (empty axes, zero size)
    sliders: int
    dropdowns: int
    other_controls: int  # toggle buttons, radio buttons, select lists
    console_errors: list[str] = field(default_factory=list)

    @property
    def figures(self) -> int:
        return self.plotly_rendered + self.widget_figures

    @property
    def controls(self) -> int:
        return self.sliders + self.dropdowns + self.other_controls


_SUMMARY_JS = r"""
() => {
  const nb = document.querySelector('__NB__');
  if (!nb) return null;
  const cells = [...nb.querySelectorAll('.jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim());
  const errors = [], widgetErrors = [];
  let loading = 0;
  for (const out of nb.querySelectorAll('.jp-OutputArea-output')) {
    const mime = out.getAttribute('data-mime-type') || '';
    const text = out.textContent || '';
    if (mime.includes('error') || (mime.includes('stderr') && /Traceback|\w+Error: /.test(text)))
      errors.push(text.slice(0, 2000));
    if (/Error displaying widget|Failed to (load|create) (model|view)|Could not render/.test(text))
      widgetErrors.push(text.slice(0, 500));
    if (/^\s*Loading widget\.\.\.\s*$/.test(text)) loading += 1;
  }
  // drawn: a visible graph with at least one trace and its marks (SVG traces, images, WebGL)
  const drawn = gd => {
    const svg = gd.querySelector('svg.main-svg');
    if (!svg) return false;
    const r = svg.getBoundingClientRect();
    if (r.width < 10 || r.height < 10) return false;
    if (!(gd._fullData || []).some(t => t.visible !== false)) return false;
    return gd.querySelectorAll('g.trace, image, canvas').length > 0;
  };
  const plots = [...nb.querySelectorAll('.js-plotly-plot')];
  const rendered = plots.filter(p => p.classList.contains('jp-RenderedPlotly'));
  const inWidget = plots.filter(p => !p.classList.contains('jp-RenderedPlotly'));
  let plotlyOutputs = 0;
  const model = window.jupyterapp?.shell?.currentWidget?.content?.model;
  if (model) {
    for (const cell of model.toJSON().cells) {
      for (const o of (cell.outputs || []))
        if (o.data && o.data['application/vnd.plotly.v1+json']) plotlyOutputs += 1;
    }
  }
  return {
    code_cells: cells.length,
    executed_cells: prompts.filter(p => /\[\d+\]/.test(p)).length,
    errors,
    widget_errors: widgetErrors,
    loading_widgets: loading,
    plotly_outputs: plotlyOutputs,
    plotly_rendered: rendered.filter(drawn).length,
    widget_figures: inWidget.filter(drawn).length,
    blank_figures: plots.filter(p => !drawn(p)).length,
    sliders: nb.querySelectorAll('.widget-slider').length,
    dropdowns: nb.querySelectorAll('.widget-dropdown').length,
    other_controls: nb.querySelectorAll('.widget-toggle-buttons, .widget-radio, .widget-select')
      .length,
  };
}
""".replace("__NB__", _NB)


def open_notebook(page, server: LabServer, notebook: str, timeout_s: float = 240.0) -> None:
    """Open ``notebook`` (a path under the server's root) and wait for an idle kernel."""
    page.goto(server.lab_url(notebook), timeout=timeout_s * 1000)
    page.wait_for_selector(f"{_NB} .jp-Cell", timeout=timeout_s * 1000)
    page.wait_for_function(
        f"() => {{ const k = {_KERNEL_JS}; "
        "return k && k.status === 'idle' && k.connectionStatus === 'connected'; }",
        timeout=timeout_s * 1000,
        polling=250,
    )
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # more room for the notebook


def run_all_cells(page, timeout_s: float = RUN_TIMEOUT_S) -> float:
    """Click Run > Run All Cells, as a reader does; wait until the kernel is done. Seconds."""
    page.mouse.move(1, 1)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    t0 = time.monotonic()
    try:  # the run has started (a fast notebook may be done before this looks)
        page.wait_for_selector(f"{_NB} .jp-InputPrompt:has-text('*')", timeout=15_000)
    except Exception:  # playwright's TimeoutError
        pass
    # Done: no cell is queued or running ([*]), the kernel is idle, and that holds for 1.5 s.
    page.wait_for_function(
        f"""() => {{
          const nb = document.querySelector('{_NB}');
          const k = {_KERNEL_JS};
          if (!nb || !k) return false;
          const busy = [...nb.querySelectorAll('.jp-InputPrompt')]
            .some(p => p.textContent.includes('*'));
          if (busy || k.status !== 'idle') {{ window.__ckIdleSince = null; return false; }}
          window.__ckIdleSince = window.__ckIdleSince || Date.now();
          return Date.now() - window.__ckIdleSince > 1500;
        }}""",
        timeout=timeout_s * 1000,
        polling=250,
    )
    seconds = time.monotonic() - t0
    settle(page)
    return seconds


def settle(page, timeout_s: float = 90.0, quiet_s: float = 3.0) -> None:
    """Wait until the widgets and figures have finished drawing: nothing loading, no blank
    graph, and the counts unchanged for ``quiet_s`` (each FigureWidget loads plotly.js as an
    anywidget module, which takes seconds on a busy machine). Gives up after ``timeout_s``;
    the checks then report what is still missing."""
    t0 = last_change = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout_s:
        s = page.evaluate(_SUMMARY_JS) or {}
        key = tuple(
            s.get(k)
            for k in (
                "plotly_rendered",
                "widget_figures",
                "blank_figures",
                "loading_widgets",
                "sliders",
                "dropdowns",
            )
        )
        now = time.monotonic()
        if key != last:
            last, last_change = key, now
        elif s.get("blank_figures") == 0 and s.get("loading_widgets") == 0:
            if now - last_change >= quiet_s:
                return
        time.sleep(0.5)


def summarize(page, notebook: str, seconds: float, console_errors: list[str]) -> RunResult:
    s = page.evaluate(_SUMMARY_JS)
    if s is None:
        raise AssertionError(f"{notebook}: no notebook on the page")
    return RunResult(notebook=notebook, seconds=seconds, console_errors=list(console_errors), **s)


def execute_in_kernel(page, code: str, timeout_s: float = 60.0) -> str:
    """Run ``code`` in the notebook's kernel without adding a cell; the reply's status."""
    return page.evaluate(
        f"""async (code) => {{
          const k = {_KERNEL_JS};
          const future = k.requestExecute({{code, silent: false, store_history: false}});
          const reply = await future.done;
          return reply.content.status;
        }}""",
        code,
    )


# ----------------------------------------------------------------------------------------------
# Widgets and figures


def _slider_in(scope, page, description: str):
    label = page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(description)}\s*$"))
    return scope.locator(".widget-slider").filter(has=label)


def slider(page, description: str):
    """The ipywidgets slider labelled ``description``."""
    return _slider_in(page.locator(_NB), page, description).first


def explorer_cell(page, description: str):
    """The code cell whose output holds the slider ``description``."""
    return page.locator(f"{_NB} .jp-CodeCell").filter(has=_slider_in(page, page, description))


def slider_readout(page, description: str) -> str:
    return slider(page, description).locator(".widget-readout").inner_text().strip()


def move_slider(page, description: str, key: str = "ArrowRight", presses: int = 2) -> None:
    """Move a slider with the keyboard on its handle, as a reader would."""
    handle = slider(page, description).locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(presses):
        handle.press(key)
    page.mouse.move(1, 1)  # no hover effects (modebar, tooltips) in what is compared


def figures_near(page, description: str):
    """The plotly figures in the same cell as the slider ``description`` (its explorer);
    every figure drawn inside a widget when that cell has none."""
    figs = explorer_cell(page, description).locator(".js-plotly-plot")
    if figs.count() == 0:
        figs = page.locator(f"{_NB} .jupyter-widgets .js-plotly-plot")
    return figs


def figure_signature(figures) -> str:
    """A digest of what the figures draw: their SVG layers (an image trace's pixels are in its
    data URL there) and the pixels of any WebGL canvas (3-D traces)."""
    parts = figures.evaluate_all(
        """(gds) => gds.map(gd => {
          const parts = [...gd.querySelectorAll('svg.main-svg')].map(s => s.innerHTML);
          for (const c of gd.querySelectorAll('canvas')) {
            try { parts.push(c.toDataURL()); } catch (e) { parts.push('canvas?'); }
          }
          // WebGL canvases may read back blank: add the data the graph holds (3-D traces)
          try { parts.push(JSON.stringify(gd.data)); } catch (e) { parts.push('data?'); }
          let h = 2166136261;  // FNV-1a: hash in the page, send back a short string
          const text = parts.join('|');
          for (let i = 0; i < text.length; i++) {
            h ^= text.charCodeAt(i);
            h = Math.imul(h, 16777619) >>> 0;
          }
          return text.length + ':' + h.toString(16);
        })"""
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def region(locator, pad: int = 8, tight: bool = True) -> dict:
    """The viewport box around the controls and graphs in ``locator`` (a graph may overflow
    its output box; the output box itself spans the page), or around all of ``locator`` and
    its graphs when not ``tight``; for ``page.screenshot(clip=...)``."""
    return locator.evaluate(
        """(el, [pad, tight]) => {
          const inner = '.widget-slider, .widget-dropdown, .widget-html, .widget-text, '
            + 'svg.main-svg';
          const parts = tight ? el.querySelectorAll(inner)
                              : [el, ...el.querySelectorAll('svg.main-svg')];
          const boxes = [...(parts.length ? parts : [el])]
            .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0);
          const x = Math.max(0, Math.min(...boxes.map(r => r.left)) - pad);
          const y = Math.max(0, Math.min(...boxes.map(r => r.top)) - pad);
          const right = Math.min(innerWidth, Math.max(...boxes.map(r => r.right)) + pad);
          const bottom = Math.min(innerHeight, Math.max(...boxes.map(r => r.bottom)) + pad);
          return {x, y, width: right - x, height: bottom - y};
        }""",
        [pad, tight],
    )


def drawn_marks(figures) -> int:
    """Marks the figures draw (SVG traces, images, canvases): 0 means blank figures."""
    return sum(
        figures.evaluate_all(
            "(gds) => gds.map(gd => gd.querySelectorAll('g.trace, image, canvas').length)"
        )
    )


def wait_for_change(figures, before: str, timeout_s: float = UPDATE_TIMEOUT_S) -> float | None:
    """Seconds until the figures' signature differs from ``before``; None if it never does."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if figure_signature(figures) != before:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def mutate_notebook(src: Path, dst: Path, replace: dict[str, str], params: str = "") -> None:
    """Copy a notebook with source replacements (each must match) and extra parameter lines."""
    nb = json.loads(src.read_text())
    found = dict.fromkeys(replace, False)
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        for old, new in replace.items():
            if old in text:
                text = text.replace(old, new)
                found[old] = True
        if params and "parameters" in cell["metadata"].get("tags", []):
            text = text + "\n" + params
        cell["source"] = text
    missing = [old for old, ok in found.items() if not ok]
    if missing:
        raise ValueError(f"{src.name}: mutation targets not found: {missing}")
    dst.write_text(json.dumps(nb))
