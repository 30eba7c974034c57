"""Headless Chromium with networking off, for the pages c360 writes (run reports, the docs site)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def offline_chromium() -> Iterator[object]:
    """A Chromium driver that resolves no host name and reaches no proxy; skips without Chromium."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Chromium or its driver is not installed (Debian: chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files",
                # networking off: every host name but loopback fails to resolve, and any proxy use goes nowhere
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def open_page(chrome: object, page: Path | str, drawn_js: str) -> tuple[list[dict], list[dict]]:
    """Load `page` (a file or a URL), wait until `drawn_js` is true (or 30 s), and return its console errors
    and failed requests."""
    chrome.get_log("browser"), chrome.get_log("performance")  # type: ignore[attr-defined]
    chrome.get(page.as_uri() if isinstance(page, Path) else page)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while not chrome.execute_script(drawn_js) and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.2)
    errors = [e for e in chrome.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]
    events = [json.loads(e["message"])["message"] for e in chrome.get_log("performance")]  # type: ignore[attr-defined]
    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed"]
    return errors, failed


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """`folder` served over HTTP on a free loopback port (a site's search fetches its index, which browsers
    refuse from the file system); yields the base URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # no line per request on stderr
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
