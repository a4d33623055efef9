"""The app in a real browser: Debian's headless Chromium driven by Playwright, network off.

Skipped when /usr/bin/chromium or the playwright package is missing. Screenshots of every tab are
written to docs/screenshots/ (synthetic clips only: no corpus transcript is ever shown).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from emoens.labels import LABELS, LABELS_KO

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("EMOENS_CHROMIUM", "/usr/bin/chromium"))
SHOTS = REPO / "docs" / "screenshots"
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def browser(app_clips):
    """Headless Chromium whose fake microphone plays the synthetic Korean clip."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=BASE_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-audio-capture={app_clips.speech}"])
        yield browser
        browser.close()


class Watched:
    """A page whose requests outside 127.0.0.1 are blocked, with failures and console errors kept."""

    def __init__(self, browser, url: str, viewport: dict | None = None):
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        self.context.grant_permissions(["microphone"], origin=url.rstrip("/"))
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.console_errors: list[str] = []
        self.page.route("**/*", self._route)
        self.calls: list[str] = []  # bodies of the events the page sends to the queue
        self.page.on("request", lambda r: "/queue/join" in r.url and self.calls.append(r.post_data or ""))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_selector("#analyze-btn")

    def _route(self, route):
        if route.request.url.startswith("http://127.0.0.1"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def problems(self) -> list[str]:
        # Event streams the page itself cancels are not failures of the app: the queue's stream when
        # a page goes away, an upload's progress stream when the upload finishes first, and the
        # audio element's read of a recording's local blob: URL when the preview is replaced.
        failed = [f for f in self.failed
                  if "/gradio_api/queue/data" not in f
                  and not ("/gradio_api/upload_progress" in f and f.endswith("ERR_ABORTED"))
                  and not (f.startswith("blob:") and f.endswith("ERR_ABORTED"))]
        return self.blocked + failed + self.console_errors

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser, running_app):
    page = Watched(browser, running_app.url)
    yield page
    page.close()


def _upload(page, path: Path) -> None:
    page.click('#audio-in button[aria-label="Upload file"]')
    page.set_input_files("#audio-in input[type=file]", str(path))
    page.wait_for_selector("#audio-in audio, #audio-in [data-testid='waveform-controls']", state="attached",
                           timeout=15000)


def _wait_summary(page, timeout: float = 60000) -> str:
    page.wait_for_selector("#summary h2", timeout=timeout)
    return page.inner_text("#summary h2")


WITHHELD = "판단 보류 · no clear result"


def _assert_heading(heading: str) -> None:
    """The headline is a label with its probability, or the withheld line with a reason shown."""
    if heading.strip() == WITHHELD:
        return
    label = next(lb for lb in LABELS if f"· {lb} —" in heading)
    assert heading.startswith(LABELS_KO[label]) and heading.rstrip().endswith("%")


def _rendering_fonts(page, selector: str) -> dict[str, int]:
    """Fonts Chromium actually used to draw the text of ``selector`` (family -> glyphs)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})
    node = cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    return {f["familyName"]: f["glyphCount"] for f in fonts}


def test_page_loads_offline_without_errors_and_korean_renders(watched):
    page = watched.page
    page.wait_for_timeout(1000)
    assert page.title().startswith("emoens")
    assert "한국어 음성 감정 인식" in page.inner_text("h1")
    fonts = _rendering_fonts(page, "h1")
    assert any("Nanum" in family and glyphs > 0 for family, glyphs in fonts.items()), fonts
    # Analyze with no recording (what a browser's first empty microphone value looks like): a message.
    page.click("#analyze-btn")
    page.wait_for_function("document.querySelector('#analyze-status').innerText.includes('no audio received')",
                           timeout=20000)
    assert watched.problems() == []


def test_upload_analyze_shows_label_chart_and_transcript(watched, app_clips, app_bundle_dir):
    page = watched.page
    _upload(page, app_clips.speech)
    page.fill("#text-in textarea", app_clips.text)
    page.click("#analyze-btn")
    _assert_heading(_wait_summary(page))
    page.wait_for_selector("#prob-chart .js-plotly-plot g.point", timeout=15000)
    assert page.locator("#prob-chart g.trace.bars").count() == 3  # speech, text, ensemble
    assert page.locator("#prob-chart g.point").count() == 3 * len(LABELS)
    ticks = sorted(page.locator("#prob-chart .ytick text").all(), key=lambda t: t.bounding_box()["y"])
    assert [t.text_content() for t in ticks] == [f"{LABELS_KO[lb]} {lb}" for lb in LABELS]  # top to bottom
    line = page.inner_text("#model-line")
    assert "아닙니다" in line and "not a judge" in line
    from emoens.ui import model as M

    if M.headline_numbers(M.read_bundle(app_bundle_dir)[0]):  # the bundle records held-out UARs
        assert "평균 UAR" in line and "Mean UAR" in line
    assert "합성" in page.inner_text("#examples") and "synthetic" in page.inner_text("#examples")
    page.wait_for_selector("#download-json", state="attached", timeout=10000)
    assert page.input_value("#transcript-out textarea") == app_clips.text
    assert "typed by you" in page.inner_text("#transcript-source")
    page.wait_for_timeout(500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "analyze.png"), full_page=True)

    # The slider re-mixes without running the models: at 1 (speech only) ensemble bars = speech bars.
    before = len(watched.calls)
    page.fill("#weight input[type=number]", "1")
    page.press("#weight input[type=number]", "Enter")
    page.wait_for_function("document.querySelector('#weight input[type=range]').value === '1'", timeout=5000)
    page.wait_for_timeout(1000)
    assert len(watched.calls) > before  # the re-mix ran …
    analyze_fn = json.loads(watched.calls[before - 1])["fn_index"]  # the Analyze click above
    remix_calls = [json.loads(c) for c in watched.calls[before:]]
    assert all(c["fn_index"] != analyze_fn and "path" not in json.dumps(c["data"]) for c in remix_calls)
    speech_bars = "[...document.querySelectorAll('#prob-chart g.trace.bars')][0]"
    ensemble_bars = "[...document.querySelectorAll('#prob-chart g.trace.bars')][2]"
    page.wait_for_function(f"{ensemble_bars} && {ensemble_bars}.textContent === {speech_bars}.textContent",
                           timeout=15000)

    assert watched.problems() == []

    # A bad upload shows a message, and the next request still works.
    page.click('#audio-in button[aria-label="Clear"]')
    _upload(page, app_clips.not_audio)
    page.click("#analyze-btn")
    page.wait_for_function("document.querySelector('#analyze-status').innerText.includes('cannot decode')",
                           timeout=20000)
    assert "notes.wav" in page.inner_text("#analyze-status")
    assert "Traceback" not in page.content()
    page.click('#audio-in button[aria-label="Clear"]')
    _upload(page, app_clips.speech)
    page.click("#analyze-btn")
    page.wait_for_function("document.querySelector('#analyze-status').innerText.trim() === ''", timeout=30000)
    assert _wait_summary(page)
    # The only complaint allowed: the browser's waveform preview cannot play the non-audio file.
    assert [p for p in watched.problems() if not p.startswith("Waveform load error")] == []


def test_microphone_recording_gets_a_result(watched):
    page = watched.page
    page.click('#audio-in button[aria-label="Record audio"]')
    page.click("#audio-in button.record-button")
    page.wait_for_timeout(2500)
    page.click("#audio-in button.stop-button")
    page.wait_for_selector("#audio-in audio, #audio-in [data-testid='waveform-controls']", state="attached",
                           timeout=15000)
    # The recording is uploaded after "stop"; on a loaded machine Analyze may be pressed before the
    # upload lands, and the app then answers with its no-audio message — a person presses it again.
    for _ in range(3):
        page.click("#analyze-btn")
        page.wait_for_function(
            "document.querySelector('#summary h2') !== null"
            " || document.querySelector('#analyze-status').innerText.includes('no audio received')",
            timeout=60000)
        if page.query_selector("#summary h2") is not None:
            break
        page.wait_for_timeout(2000)
    _assert_heading(_wait_summary(page))
    assert watched.problems() == []


@pytest.fixture(scope="module")
def labelled_manifest(tmp_path_factory, app_clips):
    """A synthetic manifest of espeak-ng clips (made-up sentences) with labels, for the other tabs."""
    from emoens.manifest import write_manifest
    from tests.fixtures.app import _speech

    sentences = {"happy": "선물을 받아서 너무 행복해요", "angry": "왜 이렇게 화가 나는지 모르겠어",
                 "sad": "너무 슬퍼서 눈물이 나요", "neutral": "그냥 평범한 하루였어요"}
    root = tmp_path_factory.mktemp("browser_manifest")
    rows = []
    for i, (label, sentence) in enumerate(list(sentences.items()) * 2):
        path = _speech(root / f"syn{i}.wav", sentence)
        rows.append({"utt_id": f"synthetic_{i:02d}", "corpus": "synthetic", "split": "test" if i >= 4 else "train",
                     "audio_path": path.name, "text": sentence, "label": label, "duration": 2.0})
    manifest = root / "manifest.csv"
    write_manifest(pd.DataFrame(rows), manifest)
    return manifest


def _tab(page, name: str) -> None:
    """Open a tab; on a narrow screen gradio moves the tabs that do not fit into its "⋯" menu."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.locator(".overflow-menu button").first.click()
        page.locator(".overflow-dropdown button", has_text=name).first.click()
    page.wait_for_timeout(300)


def _click_bar_until(page, bar, condition: str, attempts: int = 4) -> None:
    """Click a plotly bar as a user does (on plotly's layer) until ``condition`` holds.

    On a loaded machine plotly may still be laying the figure out when the bar first appears, so a
    click can land before its handlers are bound; a person would click again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        box = bar.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            page.wait_for_function(condition, timeout=5000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def test_compare_explore_and_model_tabs(watched, labelled_manifest):
    page = watched.page
    _tab(page, "비교 Compare")
    page.fill("#compare-path textarea", str(labelled_manifest))
    page.click("#compare-btn")
    page.wait_for_function("document.querySelector('#compare-status').innerText.includes('utterances')",
                           timeout=60000)
    assert "8 utterances, 8 analysed" in page.inner_text("#compare-status")
    metrics = page.inner_text("#compare-metrics")
    assert "all-neutral baseline" in metrics and "ensemble" in metrics
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)

    _tab(page, "탐색 Explore")
    page.fill("#explore-path textarea", str(labelled_manifest))
    page.click("#explore-btn")
    page.wait_for_function("document.querySelector('#explore-summary').innerText.includes('8 utterances')",
                           timeout=30000)
    page.wait_for_selector("#distribution g.point", timeout=15000)
    # Clicking the "sad" bar lists the sad utterances …
    sad = LABELS.index("sad")
    bar = page.locator("#distribution g.trace.bars").first.locator("g.point path").nth(sad)
    _click_bar_until(page, bar, "document.querySelector('#listing').innerText.includes('synthetic_06')")
    assert "synthetic_02" in page.inner_text("#listing") and "synthetic_00" not in page.inner_text("#listing")
    # … and so does clicking a row of the counts table.
    page.locator("#counts-table").get_by_text("기쁨 happy").first.click()
    page.wait_for_function("document.querySelector('#listing').innerText.includes('synthetic_00')",
                           timeout=15000)
    assert "synthetic_04" in page.inner_text("#listing")
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)

    _tab(page, "모델 Model")
    page.wait_for_selector("#model-card", timeout=10000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "model.png"), full_page=True)
    assert watched.problems() == []
