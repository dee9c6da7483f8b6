"""The page of `rnnkit serve` in a real browser: Debian's chromium driven by playwright.

Playwright's own browser download cannot reach its host from these machines, so chromium is launched by its
executable path (.ci/run installs it with apt-get); without it these tests skip, saying so. Every request the
page makes is recorded and anything not on the server's loopback address is aborted and fails the test.
The tests save a screenshot of the names, melody and text tabs into docs/ for the README.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import mido
import pytest
from playwright.sync_api import expect
from serve_support import live_server, paced

from rnnkit.serve.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[1] / "docs"  # the README's screenshots
# A test run writes its screenshots to a temporary folder, leaving the tracked ones alone;
# RNNKIT_UPDATE_SCREENSHOTS=1 writes them into docs/ (`make screenshots`).
SHOTS = DOCS if os.environ.get("RNNKIT_UPDATE_SCREENSHOTS") == "1" else Path(tempfile.gettempdir()) / "rnnkit-shots"
FLAGS = [
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-background-networking",  # no update checks, safe-browsing lists, field trials
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
)


@pytest.fixture(scope="module")
def server(serve_models):
    """What `rnnkit serve` serves by default: the bundled names and melody models, no text tab."""
    with live_server(create_app(**serve_models)) as url:
        yield url


@pytest.fixture(scope="module")
def text_stream(stream_text_run):
    from rnnkit.serve.text import load_text_stream

    return load_text_stream(stream_text_run)


@pytest.fixture(scope="module")
def text_server(serve_models, text_stream):
    """The same with the text stream of a tiny --stream run, its chunks paced as a larger model's would be."""
    with live_server(create_app(**{**serve_models, "text": paced(text_stream)})) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


class Watch:
    """A page with every console error and every request it made."""

    def __init__(self, context, base: str):
        self.base, self.errors, self.urls, self.blocked = base, [], [], []
        self.refusals_expected = False  # a test that sends bad settings on purpose: 4xx answers are the point
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.urls.append(r.url))
        context.route("**/*", self._route)

    def _route(self, route):
        if route.request.url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.base}/{fragment}")
        self.page.wait_for_selector("body[data-ready=true]")

    def check(self) -> None:
        refused = "Failed to load resource: the server responded with a status of 4"  # chromium logs each 4xx
        assert [e for e in self.errors if not (self.refusals_expected and e.startswith(refused))] == []
        assert self.blocked == []
        assert all(u.startswith((self.base + "/", "blob:", "data:")) for u in self.urls), self.urls


@pytest.fixture
def watch_on(browser):
    """watch_on(url): a fresh browser context on the server at url; on teardown, its checks."""
    made = []

    def make(url: str) -> Watch:
        context = browser.new_context(accept_downloads=True, viewport={"width": 1180, "height": 820})
        made.append((context, Watch(context, url)))
        return made[-1][1]

    yield make
    for context, w in made:
        w.check()  # no console error, no request that left 127.0.0.1
        context.close()


@pytest.fixture
def watch(watch_on, server):
    return watch_on(server)


def test_page_loads_with_its_tabs_and_no_console_errors(watch):
    """The names and melody tabs, and no text tab without a text run."""
    watch.open()
    page = watch.page
    assert page.is_visible("#tab-names") and page.is_visible("#tab-music")
    assert not page.is_visible("#tab-text")
    assert page.is_visible("#panel-names") and not page.is_visible("#panel-music")
    assert page.text_content("#names-label") == "surnames (bundled)"
    page.click("#tab-music")
    assert page.is_visible("#panel-music") and not page.is_visible("#panel-names")


def test_generate_shows_the_requested_names_and_the_score_strip(watch, serve_models):
    """Generate lists n names (the generator's for the seed); Score draws one cell per character."""
    watch.open()
    page = watch.page
    page.fill("#names-form [name=n]", "24")
    page.fill("#names-form [name=seed]", "11")
    page.fill("#names-form [name=temperature]", "0.9")
    page.click("#names-generate")
    expect(page.locator("#names-results li")).to_have_count(24)
    shown = page.eval_on_selector_all("#names-results li", "items => items.map(li => li.textContent)")
    assert shown == serve_models["names"].sample(24, temperature=0.9, seed=11)

    page.fill("#score-form [name=name]", "Mcdonald")
    page.click("#score-button")
    page.wait_for_selector("#score-strip .cell")
    assert page.locator("#score-strip .cell").count() == len("Mcdonald")
    assert page.eval_on_selector_all("#score-strip .char", "cs => cs.map(c => c.textContent).join('')") == "McDonald"
    colours = page.eval_on_selector_all("#score-strip .cell", "cs => cs.map(c => c.style.backgroundColor)")
    assert all(colours) and len(set(colours)) > 1  # coloured by probability, not all alike
    expected = [math.exp(lp) for lp in serve_models["names"].char_log_probs("Mcdonald").log_probs[:-1]]
    titles = page.eval_on_selector_all("#score-strip .cell", "cs => cs.map(c => c.title)")
    assert [float(t.rsplit("= ", 1)[1]) for t in titles] == pytest.approx(expected, rel=1e-2)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "serve-names.png"), full_page=True)


def test_beam_search_and_errors_next_to_their_control(watch):
    watch.refusals_expected = True
    watch.open()
    page = watch.page
    page.fill("#names-form [name=k]", "6")
    page.click("#names-beam")
    expect(page.locator("#names-results li .logp")).to_have_count(6)

    page.fill("#names-form [name=temperature]", "0")
    page.click("#names-generate")
    error = page.locator("#names-form .field-error[data-for=temperature]")
    error.wait_for()
    assert "greater than 0" in error.text_content()
    assert page.locator("#names-results li").count() == 6  # the last results stay; the page is not blanked

    page.fill("#names-form [name=temperature]", "1")
    page.fill("#names-form [name=prefix]", "Sm1")
    page.click("#names-generate")
    expect(page.locator("#names-form .form-error")).to_contain_text("never saw")
    assert error.text_content() == ""


def test_text_streams_into_the_page_in_chunks(watch_on, text_server, text_stream):
    watch = watch_on(text_server)
    watch.open("#text")
    assert watch.page.is_visible("#tab-text") and watch.page.is_visible("#panel-text")
    page = watch.page
    page.fill("#text-form [name=prime]", "it was ")
    page.fill("#text-form [name=length]", "400")
    page.fill("#text-form [name=seed]", "5")
    page.click("#text-generate")
    page.wait_for_selector("#text-output[data-done=true]")
    assert int(page.get_attribute("#text-output", "data-chunks")) > 1
    assert page.text_content("#text-output") == "it was " + "".join(text_stream("it was ", 400, 1.0, 5))
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "serve-text.png"), full_page=True)  # the test's tiny run: the text is noise

    page.fill("#text-form [name=length]", "20000")  # about 15 s of chunks: Stop ends it early
    page.click("#text-generate")
    expect(page.locator("#text-output")).to_have_attribute("data-chunks", re.compile(r"^[1-9][0-9]+$"))  # >= 10
    page.click("#text-stop")
    page.wait_for_selector("#text-output[data-done=stopped]")
    chunks = page.get_attribute("#text-output", "data-chunks")
    page.wait_for_timeout(300)
    assert page.get_attribute("#text-output", "data-chunks") == chunks  # no more text after Stop
    assert len(page.text_content("#text-output")) < 20_000 and page.is_enabled("#text-generate")


def test_melody_roll_play_and_download(watch, tmp_path):
    """The piano roll has a rectangle per note of the downloaded MIDI; Play starts the page's AudioContext."""
    watch.open("#music")
    page = watch.page
    page.fill("#music-form [name=steps]", "48")
    page.fill("#music-form [name=seed]", "4")
    page.select_option("#music-form [name=instrument]", "flute")
    page.click("#music-generate")
    page.wait_for_selector("#piano-roll rect.note")
    notes = page.locator("#piano-roll rect.note").count()

    with page.expect_download() as download:
        page.click("#music-download")
    path = tmp_path / "song.mid"
    download.value.save_as(path)
    midi = mido.MidiFile(path)
    assert sum(1 for m in midi if m.type == "note_on" and m.velocity > 0) == notes > 0

    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "serve-melodies.png"), full_page=True)  # before Play: no moving playhead

    page.click("#music-play")
    page.wait_for_selector("body[data-audio=running]")
    assert page.get_attribute("#piano-roll .playhead", "visibility") == "visible"
    page.click("#music-stop")
    assert page.is_disabled("#music-stop")


def test_a_primer_upload_and_a_bad_key(watch, tmp_path):
    from rnnkit.music.midi import write_midi

    primer = tmp_path / "primer.mid"
    write_midi([(72, 1.0), (71, 0.5), (69, 0.5), (67, 2.0)] * 3, primer, tempo_bpm=76)
    watch.refusals_expected = True
    watch.open("#music")
    page = watch.page
    page.set_input_files("#music-form [name=primer]", str(primer))
    page.fill("#music-form [name=steps]", "16")
    page.click("#music-generate")
    expect(page.locator("#music-summary")).to_contain_text("76 bpm")

    page.set_input_files("#music-form [name=primer]", [])
    page.fill("#music-form [name=key]", "H")
    page.click("#music-generate")
    error = page.locator("#music-form .field-error[data-for=key]")
    error.wait_for()
    assert "cannot read key" in error.text_content()


def test_melodies_over_chords_draw_the_chord_track_and_name_a_bad_symbol(watch, tmp_path):
    """Chords typed on the melodies tab: the roll draws the chord track as the MIDI file voices it, a block per
    chord named by its symbol (G/B over B2), the melody lasts a bar per chord; a bad symbol is named next to
    the chords field."""
    watch.refusals_expected = True
    watch.open("#music")
    page = watch.page
    assert page.is_visible("#music-form [name=chords]") and page.is_disabled("#music-form [name=beats_per_chord]")
    assert page.get_attribute("#music-form [name=temperature]", "placeholder") == "1"
    page.fill("#music-form [name=chords]", "C G/B Am F | Dm G C C")
    assert page.text_content("#music-label") == "Bach chorales with their chords (bundled)"
    assert page.is_disabled("#music-form [name=steps]") and page.is_enabled("#music-form [name=beats_per_chord]")
    assert page.get_attribute("#music-form [name=temperature]", "placeholder") == "0.8"
    page.fill("#music-form [name=seed]", "5")
    page.click("#music-generate")
    page.wait_for_selector("#piano-roll rect.chord")
    expect(page.locator("#music-summary")).to_contain_text("32 beats over 7 chords, C major")
    labels = page.locator("#piano-roll text.chord-label").all_text_contents()
    assert labels == ["C", "G/B", "Am", "F", "Dm", "G", "C"]

    with page.expect_download() as download:
        page.click("#music-download")
    path = tmp_path / "over.mid"
    download.value.save_as(path)
    [track] = [t for t in mido.MidiFile(path).tracks if t.name == "chords"]
    struck = [m.note for m in track if m.type == "note_on" and m.velocity > 0]
    assert page.locator("#piano-roll rect.chord").count() == len(struck) == 7 * 4
    rows = page.locator("#piano-roll rect.chord").evaluate_all("rects => rects.map((r) => +r.getAttribute('y'))")
    assert struck[4:8] == [47, 50, 55, 59] and rows[4] == max(rows[4:8])  # G/B: B2 in the bass, lowest drawn
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "serve-melodies-chords.png"), full_page=True)

    page.click("#music-play")
    page.wait_for_selector("body[data-audio=running]")
    page.click("#music-stop")

    page.fill("#music-form [name=chords]", "C H7 G")
    page.click("#music-generate")
    error = page.locator("#music-form .field-error[data-for=chords]")
    error.wait_for()
    assert "'H7'" in error.text_content()
