"""What a user sees in a browser: JupyterLab runs the project's notebooks, and `make docs` builds a site whose links
and images work. Driven by Playwright with Debian's chromium (no browser download: `executable_path`).

- test_jupyterlab_runs_train_notebook: JupyterLab from .venv on a temporary copy of nbs/ and figures/ (its own Jupyter config,
  data, runtime, settings and workspace folders in tmp), opens index.ipynb and train.ipynb, types small parameters
  into train's parameters cell, Run > Run All Cells, and checks the kernel, the absence of errors, tqdm's bars
  rendered as widgets, and the plots and the before/after image.
- test_docs_site_links_and_images: tools/docs.py builds index + 00_core (executed) + train into tmp; every link of
  the site's index page and of each page it reaches loads (HTTP 200 from a local server) and every image decodes.

Screenshots go to a tmp folder, or to $SDD_SCREENSHOTS (`make screenshots`: docs/screenshots/, committed).
Skipped only where chromium or playwright is absent (CI installs both).
"""
import json, os, re, secrets, shutil, subprocess, sys, threading, time, urllib.request
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = os.environ.get("SDD_SCREENSHOTS")
# train.ipynb with a few steps and images: the run takes ~20 s on one idle core. For the committed screenshots
# (SDD_SCREENSHOTS set: make screenshots) it trains its default 300 steps, so that the before/after image shows an edit
TRAIN_PARAMS = ('prompt = "white hair"; steps = 4; train_images = 32; eval_images = 8; hqs_images = 2; hqs_step = 400; '
                'sdedit_images = 2; batch_size = 4; out_dir = "{out}"')
if SCREENSHOTS:
    TRAIN_PARAMS = 'prompt = "white hair"; eval_images = 16; hqs_images = 4; hqs_step = 100; sdedit_images = 4; out_dir = "{out}"'

KERNEL_NAMES = {"sdd-nb (.venv)", "Python 3 (ipykernel)", "python3"}   # `make lab`'s display name, or ipykernel's

try:
    from playwright.sync_api import sync_playwright
except ImportError:                                                  # pragma: no cover
    sync_playwright = None

pytestmark = pytest.mark.skipif(CHROMIUM is None or sync_playwright is None,
                                reason=f"needs chromium ({CHROMIUM or 'not on PATH: apt-get install chromium'}) and "
                                       f"playwright ({'ok' if sync_playwright else 'not installed: pip install -e .[dev]'})")


@pytest.fixture
def shots(tmp_path) -> Path:
    "Where screenshots go: $SDD_SCREENSHOTS (make screenshots), else tmp."
    d = Path(SCREENSHOTS or tmp_path / "screenshots")
    if not d.is_absolute(): d = ROOT / d
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def chromium():
    "A headless chromium page (1280x800) that may reach only local addresses."
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.route(re.compile(r"^(?!(file:|data:|blob:|https?://(127\.0\.0\.1|localhost)[:/])).*"), lambda r: r.abort())
            yield page
        finally:
            browser.close()


def _descendants(pid: int) -> list[int]:
    "Processes below `pid` (from /proc: the kernels a Jupyter server started)."
    children: dict[int, list[int]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try: ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError): continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []): out.append(c); todo.append(c)
    return out


def _stop(proc: subprocess.Popen, grace: float = 20):
    "Stop a process we started and everything it started, by id: SIGTERM, then SIGKILL."
    kids = _descendants(proc.pid) if Path("/proc").is_dir() else []
    if proc.poll() is None:
        proc.terminate()
        try: proc.wait(grace)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(10)
    for pid in kids:                                                 # kernels left behind by a killed server
        try: os.kill(pid, 15)
        except ProcessLookupError: pass


@pytest.fixture
def lab(tmp_path):
    """JupyterLab from .venv on a copy of nbs/ (tracked files are never written), 127.0.0.1, a free port, a random
    token, Jupyter's folders in tmp; yields (base_url, token, root); stopped with its kernels afterwards."""
    root, home = tmp_path / "lab", tmp_path / "jupyter"
    for d in ("nbs", "figures", "docs"):                             # figures/, docs/: the images markdown cells show
        shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    settings = home / "settings"
    for plugin, value in {"notebook-extension/tracker": {"windowingMode": "none"},      # every cell in the DOM
                          "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}.items():
        f = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND"))}   # kernels plot inline
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    port, token = free_port(), secrets.token_hex(16)
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen([str(BIN / "jupyter"), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                             f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
                             f"--ServerApp.root_dir={root}", "--KernelManager.transport_encryption=auto"],   # as make lab
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None: pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{_tail(tmp_path / 'jupyterlab.log')}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200: break
            except OSError: pass
            if time.time() > deadline: pytest.fail(f"JupyterLab did not answer in 180 s:\n{_tail(tmp_path / 'jupyterlab.log')}")
            time.sleep(1)
        yield base, token, root
    finally:
        _stop(proc)
        log.close()


def _tail(p: Path, n: int = 40) -> str:
    return "\n".join(p.read_text(errors="replace").splitlines()[-n:])


def _api(base: str, token: str, path: str):
    with urllib.request.urlopen(f"{base}{path}?token={token}", timeout=10) as r: return json.loads(r.read())


@pytest.mark.timeout(1500 if SCREENSHOTS else 900)
def test_jupyterlab_runs_train_notebook(lab, tmp_path, shots):
    base, token, root = lab
    out_dir = tmp_path / "run"
    with chromium() as page:
        # index.ipynb renders: its title and text
        page.goto(f"{base}/lab/workspaces/index/tree/nbs/index.ipynb?reset&token={token}", timeout=120_000)
        nb = page.locator(".jp-NotebookPanel .jp-Notebook").first
        nb.wait_for(timeout=120_000)
        title = page.locator(".jp-RenderedMarkdown h1").first
        title.wait_for(timeout=60_000)
        assert title.inner_text().strip().startswith("sdd-nb"), title.inner_text()
        assert nb.locator(".jp-RenderedMarkdown h2", has_text="Two commands on a fresh machine").count() == 1
        broken = nb.locator(".jp-RenderedMarkdown img").evaluate_all(
            "els => Promise.all(els.map(e => e.complete ? e : new Promise(r => { e.onload = e.onerror = () => r(e); })))"
            ".then(es => es.filter(e => !e.naturalWidth).map(e => e.getAttribute('src')))")
        # index.ipynb writes its images relative to nbs/ (../figures/x.png); tools/readme.py rewrites them for README.md
        assert not broken, f"nbs/index.ipynb in JupyterLab: markdown images that do not load: {[re.sub(r'^.*?/files/|[?].*$', '', b) for b in broken]}"
        page.keyboard.press("Control+b")                        # the file browser aside, for the screenshot
        page.mouse.move(VIEWPORT["width"] - 5, VIEWPORT["height"] // 2)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "lab_index.png"))

        # train.ipynb: small parameters typed into its parameters cell, then Run > Run All Cells
        page.goto(f"{base}/lab/workspaces/train/tree/nbs/train.ipynb?reset&token={token}", timeout=120_000)
        panel = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Notebook")).last
        panel.locator(".jp-CodeCell").first.wait_for(timeout=120_000)
        kernel_button = panel.locator(".jp-Toolbar-kernelName").first
        _wait(lambda: kernel_button.inner_text().strip() not in ("", "No Kernel", "Kernel"), 120, "the kernel to start",
              page, tmp_path)
        _wait(lambda: _idle(base, token), 120, "the kernel to be idle", page, tmp_path)
        kernel = kernel_button.inner_text().strip()
        assert kernel in KERNEL_NAMES, f"the notebook runs on kernel {kernel!r}, expected one of {KERNEL_NAMES}"
        sessions = [s for s in _api(base, token, "/api/sessions") if s["path"].endswith("train.ipynb")]
        assert len(sessions) == 1 and sessions[0]["kernel"]["name"] in ("python3", "sdd-nb"), sessions

        params = panel.locator(".jp-CodeCell").filter(has_text='prompt: str = ""').first
        editor = params.locator(".cm-content").first
        editor.click()
        page.keyboard.press("Control+End")
        page.keyboard.press("Enter")
        line = TRAIN_PARAMS.format(out=out_dir.as_posix())
        page.keyboard.insert_text(line)
        page.keyboard.press("Escape")
        assert line in editor.inner_text(), editor.inner_text()[-400:]

        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        t0 = time.time()

        def finished():
            prompts = panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
            numbered = [re.search(r"\[\d+\]", p) is not None for p in prompts]
            failed = "Traceback (most recent call last)" in panel.inner_text()
            return (all(numbered) or failed) and not any("[*]" in p for p in prompts) and _idle(base, token)
        _wait(finished, 1200 if SCREENSHOTS else 600, "Run All Cells to finish", page, tmp_path)
        wall = time.time() - t0

        errors = panel.locator('.jp-OutputArea [data-mime-type="application/vnd.jupyter.error"]').count()
        stderr = panel.locator('.jp-OutputArea [data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        tracebacks = [s for s in stderr if "Traceback" in s or re.search(r"^\w+Error\b", s, flags=re.M)]
        assert errors == 0 and not tracebacks, "a cell failed:\n" + "\n---\n".join(tracebacks)[-3000:]
        prompts = panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        assert all(re.search(r"\[\d+\]", p) for p in prompts), f"cells without an execution count: {prompts}"
        text = panel.inner_text()
        assert "IProgress not found" not in text, "tqdm fell back to text: ipywidgets is missing from the kernel"
        bars = panel.locator(".jp-OutputArea-output .widget-hprogress").count()
        assert bars >= 1, "tqdm's progress bars did not render as widgets (.widget-hprogress)"
        widths = panel.locator(".jp-OutputArea-output img").evaluate_all("els => els.map(e => e.naturalWidth)")
        assert len(widths) >= 2 and all(w > 0 for w in widths), f"output images (plots, before/after): widths {widths}"
        last = panel.locator(".jp-CodeCell").last
        assert last.locator(".jp-OutputArea-output img").evaluate("e => e.naturalWidth") > 0, "no before/after image"
        assert (out_dir / "before_after.png").is_file() and (out_dir / "metrics.json").is_file()

        # the saved notebook agrees: every code cell ran, no error output
        page.keyboard.press("Control+s")
        saved = root / "nbs" / "train.ipynb"
        _wait(lambda: all(c.get("execution_count") for c in json.loads(saved.read_text())["cells"]
                          if c["cell_type"] == "code"), 60, "the notebook to be saved", page, tmp_path)
        cells = json.loads(saved.read_text())["cells"]
        assert not [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]

        page.keyboard.press("Control+b")                        # the file browser aside, for the screenshot
        last.scroll_into_view_if_needed()
        last.locator(".jp-OutputArea-output img").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "lab_train.png"))
        lines = list(dict.fromkeys(w.strip()[:300] for s in stderr for w in s.splitlines() if w.strip()))
        print(f"train.ipynb ran in JupyterLab in {wall:.0f} s on kernel {kernel!r}; {bars} progress widgets; "
              f"{len(widths)} images; its stderr (warnings):\n  " + "\n  ".join(lines))


def _idle(base: str, token: str, notebook: str = "train.ipynb") -> bool:
    "The notebook has a session, and every kernel of the server is idle."
    sessions, ks = _api(base, token, "/api/sessions"), _api(base, token, "/api/kernels")
    return any(s["path"].endswith(notebook) for s in sessions) and all(k["execution_state"] == "idle" for k in ks)


def _wait(cond, seconds: float, what: str, page, debug: Path):
    "Poll `cond` every second up to `seconds`; on time out keep a screenshot of the page (in `debug`) and fail."
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if cond(): return
        except Exception:                                       # a DOM node replaced while we read it: try again
            pass
        time.sleep(1)
    page.screenshot(path=str(debug / "timeout.png"))
    pytest.fail(f"waited {seconds} s for {what} (screenshot: {debug / 'timeout.png'})")


@contextmanager
def serve(folder: Path):
    "A local HTTP server of `folder` (a thread), its base URL."
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = partial(Quiet, directory=str(folder))
    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):     # the browser left a page while it loaded: not a failure
            if not isinstance(sys.exc_info()[1], ConnectionError): super().handle_error(request, client_address)
    httpd = Server(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True); t.start()
    try: yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally: httpd.shutdown(); httpd.server_close(); t.join(10)


@pytest.mark.timeout(600)
def test_docs_site_links_and_images(tmp_path, shots):
    site = tmp_path / "site"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "docs.py"), "--out", str(site), "--only", "index,00_core,train"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert {p.name for p in site.glob("*.html")} == {"index.html", "readme.html", "00_core.html", "train.html"}
    with serve(site) as url, chromium() as page:
        resp = page.goto(f"{url}/index.html")
        assert resp.status == 200
        hrefs = page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        local = [h for h in hrefs if not re.match(r"^(https?:|mailto:|#)", h)]
        assert {"readme.html", "00_core.html", "train.html"} <= set(local), local
        # the reading order: SDD itself (the README, then train) before the library
        assert local.index("readme.html") < local.index("train.html") < local.index("00_core.html")
        seen = set()
        for h in local:
            resp = page.goto(f"{url}/{h}")
            assert resp is not None and resp.status == 200, f"{h}: {resp and resp.status}"
            page.wait_for_load_state("load")
            imgs = page.locator("img").evaluate_all("els => els.map(e => [e.getAttribute('src').slice(0, 60), e.complete && e.naturalWidth])")
            broken = [s for s, w in imgs if not w]
            assert not broken, f"{h}: images that do not load: {broken}"
            # every link between pages of this site resolves too
            for link in page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
                target = link.split("#")[0]
                if not target or re.match(r"^(https?:|mailto:)", target) or target in seen: continue
                seen.add(target)
                with urllib.request.urlopen(f"{url}/{target}", timeout=10) as r:
                    assert r.status == 200, f"{h} links to {target}: {r.status}"
        # the notebook index.ipynb (the README) shows its figures, copied beside the pages
        page.goto(f"{url}/readme.html")
        widths = page.locator(".jp-RenderedMarkdown img").evaluate_all("els => els.map(e => e.naturalWidth)")
        assert len(widths) >= 3 and all(widths), widths
    # screenshots: the site `make docs` built (make screenshots builds it first), else this one
    full = ROOT / "_site" / "index.html"
    with serve(full.parent if SCREENSHOTS and full.exists() else site) as url, chromium() as page:
        page.goto(f"{url}/index.html")
        page.screenshot(path=str(shots / "docs_site.png"))
        page.goto(f"{url}/train.html")
        img = page.locator(".jp-OutputArea-output img").last
        if img.count():
            img.scroll_into_view_if_needed(); page.evaluate("window.scrollBy(0, 250)")
        page.screenshot(path=str(shots / "docs_train.png"))
