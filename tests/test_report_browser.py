"""The run report and the model card, opened in headless Chromium: they load with no console error, every
picture decodes, and nothing is fetched from anywhere but the file itself.

Debian's `chromium` is installed here when missing (root with apt-get, as in CI); elsewhere the tests skip
and say how to install it.
"""
import os
import re
import shutil
import subprocess

import pytest
from PIL import Image

from reports import screenshot


@pytest.fixture(scope="session")
def chromium():
    found = screenshot.find_chromium()
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
            subprocess.run(command, check=True, env=env, capture_output=True, timeout=1200)
        found = screenshot.find_chromium()
    if not found:
        pytest.skip("chromium is not installed: `apt-get install chromium` (Debian) to run the browser tests")
    return found


def _local_only(requests):
    return [url for url in requests if not url.startswith(("file://", "data:"))]


def test_run_report_renders_in_chromium(first_run, chromium, tmp_path):
    page = re.search(r"^report: (.+)$", first_run[1].stdout, re.M).group(1)
    check = screenshot.capture(page, str(tmp_path / "report.png"), chromium)
    assert check.errors == []
    assert check.images == 4 and check.broken_images == 0
    assert _local_only(check.requests) == [] and any(url.startswith("file://") for url in check.requests)
    width, height = Image.open(tmp_path / "report.png").size
    assert width == screenshot.WIDTH and height > 2000  # the whole page, not one screen of it


def test_model_card_renders_in_chromium(pushed_model, chromium, tmp_path):
    check = screenshot.capture(os.path.join(pushed_model, "model_card.html"), str(tmp_path / "card.png"), chromium)
    assert check.errors == [] and _local_only(check.requests) == []
