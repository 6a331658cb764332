"""Render the built docs in headless Chromium and fail on what a reader would see.

Usage: ``python docs/check_render.py [docs/_build/html] [--screenshots DIR]``, after the
docs build. Every page is opened at 1280 x 900 CSS pixels, with its fonts loaded, and
the script fails (exit code 1, one line per problem) when

- an element of the page's body is wider than the body, or is cut by a box that clips it
  (a code block, table or equation that scrolls sideways inside its own box, with a
  scrollbar, is fine: it is counted, not failed);
- math is left as MathML only (a ``<math>`` outside KaTeX's HTML, or KaTeX output
  without its HTML), or a KaTeX font fails to load;
- the page asks for anything from the network (every such request is also blocked, so
  the check sees what a reader without a connection sees), or for a local file that is
  not there.

It needs only Chromium (``apt-get install chromium``) and the standard library: it
drives the browser through the DevTools protocol over ``--remote-debugging-pipe``.
With ``--screenshots DIR`` it also saves a 1280 x 900 screenshot of the top of every
page, or of the pages named with ``--page``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH, HEIGHT = 1280, 900
TIMEOUT = 30.0  # seconds for one page to load and be measured

# Runs in the page once its fonts are ready; returns a list of problems (strings) and
# the number of boxes that scroll sideways.
MEASURE = r"""
(async () => {
  await document.fonts.ready;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const problems = [];
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList.length) s += "." + [...el.classList].slice(0, 2).join(".");
    const text = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 50);
    return text ? `${s} "${text}"` : s;
  };
  // furo's column of text (its headings and signatures reach a few px into its padding)
  const body = document.querySelector("article") || document.body;
  const box = (body.closest(".content") || body).getBoundingClientRect();
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1) {
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide ` +
                  `in a ${document.documentElement.clientWidth} px window`);
  }
  // the nearest ancestor below the body that does not let its content overflow
  const clipCache = new Map();
  const clipper = (el) => {
    const chain = [];
    let found = null;
    for (let a = el.parentElement; a && a !== body; a = a.parentElement) {
      if (clipCache.has(a)) { found = clipCache.get(a); break; }
      chain.push(a);
      if (getComputedStyle(a).overflowX !== "visible") { found = a; break; }
    }
    for (const a of chain) if (!clipCache.has(a)) clipCache.set(a, found);
    return found;
  };
  const scrollers = new Set();
  // a box that scrolls sideways shows a scrollbar (one that takes room below the content)
  const scrollsVisibly = (el, style) =>
    ["auto", "scroll"].includes(style.overflowX) && style.scrollbarWidth !== "none" &&
    el.offsetHeight - el.clientHeight - parseFloat(style.borderTopWidth) -
      parseFloat(style.borderBottomWidth) > 0;
  for (const el of body.querySelectorAll("*")) {
    // KaTeX's insides (struts, clipped stretchy glyphs, the hidden MathML copy) are
    // measured as one box: the .katex element
    if (el.closest(".katex") && !el.classList.contains("katex")) continue;
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const own = getComputedStyle(el);
    // the box's own content: text that does not wrap runs past its right edge
    if (own.overflowX !== "visible" && el.scrollWidth > el.clientWidth + 1) {
      if (scrollsVisibly(el, own)) scrollers.add(el);
      else problems.push(`${name(el)} cuts its content (overflow-x: ${own.overflowX}): ` +
                         `${el.scrollWidth - el.clientWidth} px hidden, no scrollbar`);
    }
    const right = own.overflowX === "visible" ? Math.max(r.right, r.left + el.scrollWidth) : r.right;
    const c = clipper(el);
    if (c === null) {
      if (right > box.right + 1 || r.left < box.left - 1) {
        problems.push(`${name(el)} is wider than the page body: ` +
                      `${Math.round(r.left - box.left)}..${Math.round(right - box.left)} px ` +
                      `of ${Math.round(box.width)}`);
      }
      continue;
    }
    const cr = c.getBoundingClientRect();
    if (right <= cr.right + 1 && r.left >= cr.left - 1) continue;
    const style = getComputedStyle(c);
    if (scrollsVisibly(c, style)) {
      scrollers.add(c);
    } else {
      problems.push(`${name(el)} is cut by ${name(c)} (overflow-x: ${style.overflowX}): ` +
                    `${Math.round(right - cr.right)} px hidden, no scrollbar`);
    }
  }
  for (const m of document.querySelectorAll("math")) {
    if (!m.closest(".katex-mathml")) problems.push(`MathML without KaTeX's HTML: ${name(m)}`);
  }
  for (const k of document.querySelectorAll(".katex")) {
    if (!k.querySelector(":scope > .katex-html")) problems.push(`KaTeX output without its HTML: ${name(k)}`);
  }
  let katexFonts = 0;
  for (const face of document.fonts) {
    if (!face.family.replace(/"/g, "").startsWith("KaTeX_")) continue;
    if (face.status === "error") problems.push(`the font ${face.family} ${face.style} ${face.weight} failed to load`);
    if (face.status === "loaded") katexFonts += 1;
  }
  if (document.querySelector(".katex-html") && katexFonts === 0) {
    problems.push("the page shows math but no KaTeX font loaded");
  }
  return {problems, scrollers: [...scrollers].map(name), math: document.querySelectorAll(".katex").length};
})()
"""


class Browser:
    """Headless Chromium, driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out:
    JSON messages, each ended by a NUL byte)."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="check-render-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_pipes():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                f"--user-data-dir={self.profile}",
                f"--window-size={WIDTH},{HEIGHT}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe (did it start?)")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self._read(deadline))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    sys.exit("check_render: no Chromium found (apt-get install chromium)")


def check(root: Path, shots: Path | None, only: list[str], verbose: bool) -> int:
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.parts)
    if only:
        pages = [p for p in pages if p.relative_to(root).as_posix() in only]
    browser = Browser(find_chromium())
    failures = 0
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        browser.send("Page.enable", session=session)
        browser.send("Network.enable", session=session)
        browser.send(
            "Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]}, session
        )
        for page in pages:
            browser.events.clear()
            started = time.monotonic()
            browser.send("Page.navigate", {"url": page.as_uri()}, session)
            browser.wait_for("Page.loadEventFired", session)
            result = browser.send(
                "Runtime.evaluate",
                {"expression": MEASURE, "awaitPromise": True, "returnByValue": True},
                session,
            )
            if "exceptionDetails" in result:
                raise RuntimeError(f"{page}: {result['exceptionDetails']}")
            found = result["result"]["value"]
            problems = list(found["problems"])
            requested = {}
            for event in browser.events:
                params = event.get("params", {})
                if event.get("method") == "Network.requestWillBeSent":
                    url = params["request"]["url"]
                    requested[params["requestId"]] = url
                    if not url.startswith(("file:", "data:", "blob:", "about:")):
                        problems.append(f"asks the network for {url}")
                elif event.get("method") == "Network.loadingFailed":
                    url = requested.get(params["requestId"], "?")
                    if url.startswith("file:"):
                        problems.append(f"a local file is missing: {url} ({params.get('errorText')})")
            name = page.relative_to(root).as_posix()
            print(
                f"{name}: {'ok' if not problems else f'{len(problems)} problem(s)'} "
                f"({found['math']} formulas, {len(found['scrollers'])} boxes that scroll sideways, "
                f"{time.monotonic() - started:.1f} s)"
            )
            for problem in problems:
                print(f"    {problem}")
            if verbose:
                for scroller in found["scrollers"]:
                    print(f"    scrolls sideways, with a scrollbar: {scroller}")
            failures += len(problems)
            if shots is not None:
                shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
                out = shots / (name.replace("/", "_").removesuffix(".html") + ".png")
                out.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()
    print(f"{len(pages)} pages, {failures} problem(s)")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=Path(__file__).parent / "_build" / "html", type=Path)
    parser.add_argument("--screenshots", type=Path, help="save a screenshot of each page here")
    parser.add_argument("--page", action="append", default=[], help="check only this page (path in root)")
    parser.add_argument("-v", "--verbose", action="store_true", help="name the boxes that scroll sideways")
    args = parser.parse_args()
    if not (args.root / "index.html").is_file():
        sys.exit(f"check_render: no built docs in {args.root} (build them first)")
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    sys.exit(check(args.root.resolve(), args.screenshots, args.page, args.verbose))


if __name__ == "__main__":
    main()
