"""The built book as a reader gets it (``book/_build/html``).

These tests read the site that ``jupyter-book build book`` wrote, so ``make test`` runs them
after the build (``pytest -m site``); a plain ``pytest`` leaves them out (``-m "not site"`` in
pyproject.toml). Run without a built book, they fail: there is nothing to check.
"""

import html as html_module
import json
import re
import shutil
import subprocess
import time

import pytest
import websocket

from test_assignments import BOOK, SOLUTIONS, _read, _secret_lines, classroom

pytestmark = pytest.mark.site
HTML = BOOK / "_build" / "html"


@pytest.fixture(scope="module")
def pages():
    """Every text file of the site: HTML as a reader sees it (tags removed, entities unescaped)."""
    assert HTML.is_dir(), f"{HTML} does not exist: build the book first (jupyter-book build book)"
    out = {}
    for path in HTML.rglob("*"):
        if path.suffix in (".html", ".ipynb", ".txt", ".md", ".py"):
            text = path.read_text(errors="replace")
            if path.suffix == ".html":
                text = html_module.unescape(re.sub(r"<[^>]+>", "", text))
            out[path] = text
    return out


def test_the_built_site_shows_no_solution_and_no_model_answer(pages):
    assert any("handouts" in str(p) for p in pages), "the student copies are not on the site"
    assert not (HTML / "assignments").exists(), "the solution notebooks were built"
    for solution in SOLUTIONS:
        distinctive = [line for line in _secret_lines(_read(solution)) if len(line) >= 30]  # not "for n in Ns:"
        assert len(distinctive) >= 20, solution.name
        for line in distinctive:
            found = [str(p.relative_to(HTML)) for p, text in pages.items() if line in text]
            assert not found, f"{line!r} of {solution.name} is on the site: {found}"
    assert not [p for p, text in pages.items() if "A model answer" in text]
    for marker in (classroom.BEGIN_SOLUTION, classroom.BEGIN_HIDDEN, "check("):  # the teachers' page may name the markers
        assert not [p for p, text in pages.items() if marker in text and "handouts" in str(p)], marker


# --- The pages in a browser with the network off ------------------------------------------------

CHROMIUM = "chromium"
OFFLINE = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",  # no host name resolves
]
# The chapter with the most math, and the one with an amsmath environment (cases)
BROWSED = ["04_losses.html", "05_projection.html", "01_xdog.html"]
# From 1440 px wide the theme gives the text its full width: a code cell's box is 786 px, and
# 88 characters of its 14 px monospace take 774 (at 1280 px the box has 672, 76 characters).
WINDOW = {"width": 1440, "height": 900}

# Run in the page once it has loaded: waits for MathJax's first typesetting and for the fonts,
# then reports the math, any TeX left as text, and the code cells wider than their box.
MEASURE = r"""
(async () => {
  const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise;
  if (typeset) await typeset;
  await document.fonts.ready;
  const prose = document.querySelector("main").cloneNode(true);
  prose.querySelectorAll("pre, code, script, style").forEach(e => e.remove());
  const longest = pre => pre.textContent.split("\n").reduce((a, b) => b.length > a.length ? b : a);
  return {
    mathjax: Boolean(typeset),
    math: document.querySelectorAll(".math").length,
    rendered: document.querySelectorAll(".math > mjx-container").length,
    errors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent),
    raw: (prose.textContent.match(/.{0,30}(\\\(|\\\[|\$\$).{0,30}/g) || []),
    wide: [...document.querySelectorAll(".cell_input pre")]
      .filter(pre => pre.scrollWidth > pre.clientWidth)
      .map(pre => `${pre.scrollWidth} > ${pre.clientWidth} px: ${longest(pre)}`),
  };
})()
"""


class DevTools:
    """The DevTools protocol on one websocket: commands answered by id, events kept."""

    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.last_id = 0
        self.events = []

    def __call__(self, method, session=None, **params):
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            answer = json.loads(self.socket.recv())
            if answer.get("id") == self.last_id:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, event, session):
        while not any(e["method"] == event and e.get("sessionId") == session for e in self.events):
            self.events.append(json.loads(self.socket.recv()))


def _start_chromium(profile):
    """Chromium with a fresh profile and a DevTools port of its choosing (written in the profile)."""
    assert shutil.which(CHROMIUM), "chromium is not installed: `make test` installs it as root, or apt-get install chromium"
    process = subprocess.Popen(
        [CHROMIUM, *OFFLINE, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
    while len(port_file.read_text().split() if port_file.exists() else []) < 2:
        assert process.poll() is None, f"chromium stopped with exit code {process.returncode}"
        assert time.monotonic() < deadline, "chromium opened no DevTools port within 60 s"
        time.sleep(0.1)
    port, path = port_file.read_text().split()
    return process, f"ws://127.0.0.1:{port}{path}"


@pytest.fixture(scope="module")
def browsed(tmp_path_factory):
    """What each page in BROWSED shows in Chromium with the network off, and what it asked for.

    Headless Chromium (Debian's package; `make test` installs it) opens the built pages from
    disk, as a reader who opened index.html would, with no host name resolving and the page's
    network emulated as offline; then the page itself is asked what it shows (MEASURE).

    Chromium is driven through the DevTools protocol, the browser's own remote control, on a
    websocket (the small ``websocket-client`` package): one process, no driver binary to keep at
    the browser's version (Selenium needs chromedriver), no browser download (Playwright brings
    its own). ``chromium --dump-dom`` alone would show whether MathJax ran, but not the layout
    that says whether a code cell scrolls sideways; the protocol gives both, and it reports every
    request the page makes, so a page that still asks a CDN for MathJax is named as such.
    """
    assert all((HTML / name).is_file() for name in BROWSED), f"build the book first: {HTML}"
    process, url = _start_chromium(tmp_path_factory.mktemp("chromium"))
    try:
        tools = DevTools(url)
        out = {}
        for name in BROWSED:
            target = tools("Target.createTarget", url="about:blank")["targetId"]
            session = tools("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            tools("Network.enable", session)
            tools("Network.emulateNetworkConditions", session, offline=True, latency=0,
                  downloadThroughput=-1, uploadThroughput=-1)
            tools("Emulation.setDeviceMetricsOverride", session, deviceScaleFactor=1, mobile=False, **WINDOW)
            tools("Page.enable", session)
            tools("Page.navigate", session, url=(HTML / name).as_uri())
            tools.wait_for("Page.loadEventFired", session)
            result = tools("Runtime.evaluate", session, expression=MEASURE, awaitPromise=True, returnByValue=True)
            assert "exceptionDetails" not in result, result["exceptionDetails"]
            page = result["result"]["value"]
            ours = [e["params"] for e in tools.events if e.get("sessionId") == session]
            page["remote"] = [p["request"]["url"] for p in ours if "request" in p and not p["request"]["url"].startswith(("file:", "data:"))]
            failed = {p["requestId"] for p in ours if "errorText" in p}
            page["failed"] = [p["request"]["url"] for p in ours if "request" in p and p["requestId"] in failed]
            tools("Target.closeTarget", targetId=target)
            out[name] = page
        tools.socket.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return out


@pytest.mark.parametrize("name", BROWSED)
def test_the_math_renders_offline(browsed, name):
    page = browsed[name]
    assert page["math"] >= 10, f"{name} shows only {page['math']} formulas"
    assert page["mathjax"] and page["rendered"] == page["math"], (
        f"{page['rendered']} of the {page['math']} formulas of {name} rendered offline (MathJax "
        f"loaded: {page['mathjax']}; asked the network for {page['remote'] or 'nothing'})")
    assert not page["errors"], f"TeX errors in {name}: {page['errors']}"
    assert not page["raw"], f"raw TeX in the text of {name}: {page['raw']}"
    assert not page["remote"], f"{name} asks the network for {page['remote']}"
    assert not page["failed"], f"{name} could not load {page['failed']}"


@pytest.mark.parametrize("name", BROWSED)
def test_no_code_cell_scrolls_sideways(browsed, name):
    wide = browsed[name]["wide"]
    assert not wide, f"{len(wide)} code cells of {name} scroll sideways at {WINDOW['width']} px:\n" + "\n".join(wide)
