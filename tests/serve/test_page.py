"""The operator page at `/`: upload an image in headless Chromium, see the verdict, rule and defects."""

from __future__ import annotations

import os

import httpx
import pytest
from browser import Browser, chromium_path
from servekit import API_KEY, png_bytes

from fibervlm.paths import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium_path() is None, reason="needs Debian's chromium (apt-get install -y chromium)"
    ),
]
# The README's screenshot is refreshed only on request: a test run must not rewrite tracked files.
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "serve_page.png"


@pytest.fixture(scope="module")
def failing_face(tmp_path_factory):
    """A synthetic end face that fails IEC grading, with a few defects to draw (first such index)."""
    from fibervlm.synth import SynthConfig, sample_endface

    standard = SynthConfig(appearance="standard", frame="base")  # the look of the README's screenshot
    for index in range(50):
        image, truth = sample_endface(seed=11, index=index, profile="sm-pc", config=standard)
        if truth.pass_fail == "FAIL" and 2 <= len(truth.defects) <= 8:
            path = tmp_path_factory.mktemp("page") / "face.png"
            path.write_bytes(png_bytes(image))
            return path
    raise AssertionError("no failing synthetic face in 50 draws")


def test_upload_through_the_page(served, failing_face, tmp_path) -> None:
    expected = httpx.post(
        f"{served.url}/v1/inspect",
        files={"image": ("face.png", failing_face.read_bytes(), "image/png")},
        headers={"X-API-Key": API_KEY},
        timeout=60,
    ).json()
    screenshot = DOCS_SCREENSHOT if os.environ.get("FIBERVLM_UPDATE_DOCS") else tmp_path / "page.png"
    browser = Browser(f"{served.url}/")
    try:
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('go')")
        browser.set_file("#file", failing_face)
        browser.evaluate(f"document.getElementById('key').value = {API_KEY!r}")
        browser.evaluate("document.getElementById('go').click()")
        state = browser.wait_for("document.body.dataset.state")
        shown = browser.evaluate(
            "({state: document.body.dataset.state, error: document.getElementById('error').textContent,"
            " verdict: document.getElementById('verdict').textContent,"
            " rule: document.getElementById('rule').textContent,"
            " rows: document.querySelectorAll('#defects tr').length,"
            " canvas: [document.getElementById('canvas').width, document.getElementById('canvas').height]})"
        )
        browser.screenshot(screenshot)
    finally:
        browser.close()
    assert state == "done", shown["error"]
    assert shown["verdict"] == expected["pass_fail"]
    assert shown["rule"] == (expected["failed_rule"] or "none")
    assert shown["rows"] == expected["n_defects"]
    scale = min(1, 640 / expected["width"], 640 / expected["height"])  # the page fits images in 640 px
    assert shown["canvas"] == [round(expected["width"] * scale), round(expected["height"] * scale)]
    assert screenshot.stat().st_size > 10_000


def test_page_shows_the_reason_of_a_refusal(served, tmp_path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    browser = Browser(f"{served.url}/")
    try:
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('go')")
        browser.set_file("#file", bad)
        browser.evaluate(f"document.getElementById('key').value = {API_KEY!r}")
        browser.evaluate("document.getElementById('go').click()")
        assert browser.wait_for("document.body.dataset.state") == "error"
        message = browser.evaluate("document.getElementById('error').textContent")
    finally:
        browser.close()
    assert "422" in message and "not an image" in message
