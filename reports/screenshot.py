"""Opens a report in headless Chromium and takes a full-page screenshot, recording every request the page
made and every console error, through the DevTools protocol (Debian's `chromium` package).

    python -m reports.screenshot outputs/reports/<run>/index.html docs/run_report.png
"""
import base64
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import List

import websocket

# Without the background-networking flags Chromium phones home at start, which a closed network refuses.
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--remote-debugging-port=0", "--remote-allow-origins=*"]
WIDTH = 1200


@dataclasses.dataclass
class PageCheck:
    requests: List[str]  # every URL the page asked for, itself included
    errors: List[str]  # console errors, uncaught exceptions, failed loads
    images: int  # <img> elements
    broken_images: int  # <img> elements that did not decode


def find_chromium() -> str:
    return shutil.which("chromium") or shutil.which("chromium-browser") or ""


class _DevTools:
    def __init__(self, url: str):
        self._socket = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self._next_id = 0
        self.events = []

    def call(self, method: str, **params):
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self._socket.recv()))

    def close(self):
        self._socket.close()


def _debugger_url(profile: str, process: subprocess.Popen) -> str:
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 60
    while not os.path.exists(port_file) or not open(port_file).read().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start: {process.stderr.read()[-2000:] if process.stderr else ''}")
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


def _errors(events) -> List[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"]["text"])
        elif method == "Network.loadingFailed":
            errors.append(f"failed to load: {params.get('errorText')}")
    return errors


def capture(html_path: str, png_path: str, chromium: str = "") -> PageCheck:
    chromium = chromium or find_chromium()
    if not chromium:
        raise FileNotFoundError("chromium not found: install Debian's `chromium` package")
    # Chromium's helper processes write into the profile until they exit: they are killed as one group.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen([chromium, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        try:
            page = _DevTools(_debugger_url(profile, process))
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1,
                      mobile=False)
            page.call("Page.navigate", url="file://" + os.path.abspath(html_path))
            page.wait_for("Page.loadEventFired")
            images = page.call("Runtime.evaluate", returnByValue=True, expression=(
                "[document.images.length, Array.from(document.images).filter("
                "i => !(i.complete && i.naturalWidth > 0)).length]"))["result"]["value"]
            height = page.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
            page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=int(height), deviceScaleFactor=1,
                      mobile=False)
            shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            page.close()
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with open(png_path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    requests = [e["params"]["request"]["url"] for e in page.events if e.get("method") == "Network.requestWillBeSent"]
    return PageCheck(requests=requests, errors=_errors(page.events), images=images[0], broken_images=images[1])


def main(argv=None) -> int:
    html_path, png_path = (argv or sys.argv[1:])[:2]
    check = capture(html_path, png_path)
    print(f"{png_path}: {check.images} images ({check.broken_images} broken), {len(check.errors)} console errors, "
          f"{len(check.requests)} requests")
    for line in check.errors:
        print(f"error: {line}")
    return 1 if check.errors or check.broken_images else 0


if __name__ == "__main__":
    sys.exit(main())
