"""`rnnkit serve`'s JSON API through Starlette's test client: answers, bounds, 4xx errors, headers, concurrency."""

from __future__ import annotations

import base64
import io
import json
import math
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import mido
import numpy as np
import pytest
from serve_support import live_server
from starlette.testclient import TestClient

from rnnkit import cli
from rnnkit.music.midi import write_midi
from rnnkit.music.tokens import key_shift
from rnnkit.serve import schemas
from rnnkit.serve.app import create_app


@pytest.fixture(scope="module")
def text_stream(stream_text_run):
    from rnnkit.serve.text import load_text_stream

    return load_text_stream(stream_text_run)


@pytest.fixture(scope="module")
def app(serve_models, text_stream):
    return create_app(**{**serve_models, "text": text_stream})


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def _written(events, tempo) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.mid"
        write_midi(events, path, tempo_bpm=tempo)
        return path.read_bytes()


# -- the Python API the page uses ------------------------------------------------------------------------------
def test_char_log_probs_add_up_to_the_names_score(serve_models):
    """Each character's log-probability, then the end's, sum to `score`; a character's depends only on those before."""
    gen = serve_models["names"]
    s = gen.char_log_probs("Mcdonald")
    assert s.chars == tuple("McDonald") and len(s.log_probs) == len("Mcdonald") + 1  # shown as sampled names are
    assert s.log_prob == pytest.approx(gen.score(["Mcdonald"])[0].log_prob, abs=1e-4)
    assert all(lp < 0 for lp in s.log_probs)
    np.testing.assert_allclose(gen.char_log_probs("Mcd").log_probs[:3], s.log_probs[:3], atol=1e-6)


def test_score_chars_prints_each_characters_probability(capsys):
    """`rnnkit text score --chars` prints one probability per character and one for the end, multiplying to P(name)."""
    assert cli.main(["text", "score", "--chars", "Smith"]) == 0
    name, log_prob, cells = capsys.readouterr().out.strip().split("\t")
    probs = [float(c.rsplit(":", 1)[1]) for c in cells.split()]
    assert name == "Smith" and [c.rsplit(":", 1)[0] for c in cells.split()] == [*"Smith", "<end>"]
    assert math.log(np.prod(probs)) == pytest.approx(float(log_prob), abs=0.05)


# -- answers -----------------------------------------------------------------------------------------------------
def test_sample_gives_the_names_the_generator_gives_for_the_seed(client, serve_models):
    """/api/names/sample returns n names, the same as NameGenerator.sample with that seed; no seed: one is reported."""
    r = client.post("/api/names/sample", json={"n": 12, "seed": 7, "temperature": 0.8, "top_p": 0.95, "prefix": "Ba"})
    assert r.status_code == 200
    expected = serve_models["names"].sample(12, temperature=0.8, top_p=0.95, prefix="Ba", seed=7)
    assert r.json() == {"names": expected, "seed": 7}
    drawn = client.post("/api/names/sample", json={"n": 3}).json()
    again = client.post("/api/names/sample", json={"n": 3, "seed": drawn["seed"]}).json()
    assert again["names"] == drawn["names"]


def test_novel_names_are_not_in_the_training_data(client, serve_models):
    names = client.post("/api/names/sample", json={"n": 50, "novel": True, "seed": 1}).json()["names"]
    known = serve_models["names"].training_items
    assert len(names) == 50 and not any(n.lower() in known for n in names)


def test_beam_and_score(client, serve_models):
    """Beam search returns k names by falling log-probability; score gives one probability per character."""
    found = client.post("/api/names/beam", json={"k": 5}).json()["names"]
    assert len(found) == 5 and [f["log_prob"] for f in found] == sorted((f["log_prob"] for f in found), reverse=True)
    s = client.post("/api/names/score", json={"name": "smith"}).json()
    assert s["name"] == "Smith" and s["chars"] == list("Smith") and len(s["probs"]) == 5
    assert math.log(np.prod(s["probs"]) * s["end"]) == pytest.approx(s["log_prob"], abs=1e-6)


def test_melody_notes_match_its_midi(client):
    """/api/melody: the notes listed are the MIDI file's notes, in the key and tempo asked for."""
    r = client.post("/api/melody", json={"steps": 40, "seed": 3, "key": "G", "tempo": 132, "instrument": "violin"})
    assert r.status_code == 200
    m = r.json()
    assert m["events"] == 40 and m["tempo"] == 132 and m["program"] == 40
    in_c = client.post("/api/melody", json={"steps": 40, "seed": 3}).json()  # the model writes in C / Am
    shift = {n["pitch"] - c["pitch"] for n, c in zip(m["notes"], in_c["notes"], strict=True)}
    assert shift == {key_shift("G")}
    mid = mido.MidiFile(file=io.BytesIO(base64.b64decode(m["midi"])))
    on = [msg.note for msg in mid.tracks[1] if msg.type == "note_on" and msg.velocity > 0]
    assert on == [n["pitch"] for n in m["notes"]]
    assert all(0 <= n["start"] < m["beats"] for n in m["notes"])


def test_a_primer_is_continued_at_its_tempo(client):
    """An uploaded primer .mid lends the melody its tempo; the same seed without it gives another melody."""
    primer = base64.b64encode(_written([(67, 1.0), (69, 1.0), (71, 2.0)] * 4, tempo=84)).decode()
    primed = client.post("/api/melody", json={"steps": 16, "seed": 2, "primer": primer}).json()
    plain = client.post("/api/melody", json={"steps": 16, "seed": 2}).json()
    assert primed["tempo"] == 84 and plain["tempo"] == 100
    assert primed["notes"] != plain["notes"]


def test_a_melody_over_chords_is_the_one_the_cli_writes(client, tmp_path, capsys):
    """/api/melody with chords: the same MIDI file, byte for byte, as `rnnkit music generate --chords` with that
    seed (a bar per chord, the chord model's default temperature, the chords' key); the chord blocks listed are
    the file's chord track, G/B over B2."""
    text = "C G/B Am F | Dm G C C"
    r = client.post("/api/melody", json={"chords": text, "seed": 5})
    assert r.status_code == 200, r.text
    m = r.json()
    out = tmp_path / "cli.mid"
    assert cli.main(["music", "generate", "--chords", text, "--seed", "5", "--out", str(out)]) == 0
    assert "C major" in capsys.readouterr().out
    assert base64.b64decode(m["midi"]) == out.read_bytes()
    assert (m["beats"], m["key"], m["temperature"], m["chord_program"]) == (32, "C major", 0.8, 48)
    assert [c["symbol"] for c in m["chords"]] == ["C", "G/B", "Am", "F", "Dm", "G", "C"]
    assert m["chords"][1] == {"start": 4, "end": 8, "pitches": [47, 50, 55, 59], "symbol": "G/B"}
    mid = mido.MidiFile(file=io.BytesIO(base64.b64decode(m["midi"])))
    [track] = [t for t in mid.tracks if t.name == "chords"]
    struck = [msg.note for msg in track if msg.type == "note_on" and msg.velocity > 0]
    assert struck == [p for c in m["chords"] for p in c["pitches"]]
    assert all(n["start"] + n["duration"] <= 32 for n in m["notes"])
    hotter = client.post("/api/melody", json={"chords": text, "seed": 5, "temperature": 1.5}).json()
    assert hotter["temperature"] == 1.5 and hotter["notes"] != m["notes"]
    plain = client.post("/api/melody", json={"steps": 8, "seed": 5}).json()
    assert plain["chords"] == [] and plain["temperature"] == 1.0


def test_chords_in_another_key_and_beats_per_chord(client):
    """beats_per_chord sets each chord's length; a key moves melody and chords together; a minor progression is
    written in its minor key."""
    m = client.post("/api/melody", json={"chords": "Am Dm E Am", "beats_per_chord": 2, "key": "D minor"}).json()
    assert m["beats"] == 8 and m["key"] == "D minor"
    assert [(c["symbol"], c["start"], c["pitches"][0]) for c in m["chords"]] == [
        ("Dm", 0, 38),
        ("Gm", 2, 43),
        ("A", 4, 45),
        ("Dm", 6, 38),
    ]


# -- bad input: a 4xx JSON error of one line, naming the parameter ---------------------------------------------------
BAD = [
    ("/api/names/sample", {"n": 0}, "n"),
    ("/api/names/sample", {"n": schemas.MAX_NAMES + 1}, "n"),
    ("/api/names/sample", {"n": "many"}, "n"),
    ("/api/names/sample", {"temperature": 0}, "temperature"),
    ("/api/names/sample", {"temperature": -1}, "temperature"),
    ("/api/names/sample", {"temperature": 11}, "temperature"),
    ("/api/names/sample", {"temperature": None}, "temperature"),
    ("/api/names/sample", {"top_p": 1.5}, "top_p"),
    ("/api/names/sample", {"top_k": 0}, "top_k"),
    ("/api/names/sample", {"prefix": "a" * 101}, "prefix"),
    ("/api/names/sample", {"seed": -1}, "seed"),
    ("/api/names/sample", {"max_length": 1000}, "max_length"),
    ("/api/names/sample", {"path": "/etc/passwd"}, "path"),
    ("/api/names/beam", {"k": schemas.MAX_BEAM + 1}, "k"),
    ("/api/names/score", {"name": ""}, "name"),
    ("/api/names/score", {}, "name"),
    ("/api/melody", {"steps": 0}, "steps"),
    ("/api/melody", {"steps": schemas.MAX_STEPS + 1}, "steps"),
    ("/api/melody", {"temperature": 0}, "temperature"),
    ("/api/melody", {"tempo": 5}, "tempo"),
    ("/api/melody", {"key": "H#"}, "key"),
    ("/api/melody", {"instrument": "kazoo"}, "instrument"),
    ("/api/melody", {"instrument": "200"}, "instrument"),
    ("/api/melody", {"primer": "not base64!"}, "primer"),
    ("/api/melody", {"primer": base64.b64encode(b"MThd" + bytes(100)).decode()}, "primer"),
    ("/api/melody", {"primer": base64.b64encode(bytes(schemas.MAX_UPLOAD + 1)).decode()}, "primer"),
    ("/api/melody", {"chords": "C H7 G"}, "chords"),
    ("/api/melody", {"chords": "C | | G"}, "chords"),
    ("/api/melody", {"chords": "C " * 129}, "chords"),  # 129 bars: over MAX_CHORD_BEATS
    ("/api/melody", {"chords": "C" * (schemas.MAX_CHORDS_TEXT + 1)}, "chords"),
    ("/api/melody", {"chords": "C", "beats_per_chord": 0}, "beats_per_chord"),
    ("/api/melody", {"chords": "C", "beats_per_chord": schemas.MAX_BEATS_PER_CHORD + 1}, "beats_per_chord"),
    ("/api/melody", {"beats_per_chord": 2}, "beats_per_chord"),
    ("/api/melody", {"chords": "C F", "steps": 8}, "steps"),
    ("/api/melody", {"chords": "C F", "primer": base64.b64encode(b"MThd").decode()}, "primer"),
    ("/api/melody", {"chords": "C F", "chord_instrument": "kazoo"}, "chord_instrument"),
    ("/api/text", {"length": schemas.MAX_TEXT + 1}, "length"),
    ("/api/text", {"prime": "x" * (schemas.MAX_PRIME + 1)}, "prime"),
    ("/api/text", {"temperature": 0}, "temperature"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD, ids=[f"{p}-{f}-{i}" for i, (p, _, f) in enumerate(BAD)])
def test_bad_parameters_get_a_4xx_json_error_naming_them(client, path, body, field):
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500
    error = r.json()
    assert error["field"] == field
    assert "\n" not in error["error"] and "Traceback" not in error["error"] and error["error"]
    if field == "chords" and "H7" in body["chords"]:
        assert "'H7'" in error["error"]  # the bad symbol is named


def test_a_server_without_a_chord_model_refuses_chords(serve_models):
    """create_app without `chords`: no chords option in /api/info, and a request with chords is refused."""
    bare = TestClient(create_app(music=serve_models["music"]))
    assert bare.get("/api/info").json()["music"]["chords"] is None
    r = bare.post("/api/melody", json={"chords": "C F"})
    assert r.status_code == 400 and r.json()["field"] == "chords" and "no model" in r.json()["error"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_temperature_must_be_finite(client, literal):
    r = client.post("/api/names/sample", content=f'{{"temperature": {literal}}}', headers=JSON)
    assert r.status_code == 422 and r.json()["field"] == "temperature"


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        ("{not json", JSON, 422),
        ("[1, 2]", JSON, 422),
        ('"n"', JSON, 422),
        ('{"n": 3}', {"content-type": "text/plain"}, 415),  # a cross-site form cannot post JSON without CORS
        ('{"n": 3}', {"content-type": "application/x-www-form-urlencoded"}, 415),
        ("", {}, 415),  # even an empty POST: no other site's page can start work here
    ],
)
def test_bodies_that_are_no_json_object_are_refused(client, content, headers, status):
    r = client.post("/api/names/sample", content=content, headers=headers)
    assert r.status_code == status and r.json()["field"] is None and r.json()["error"]


def test_refusals_of_the_model_are_400_with_the_reason(client):
    """A prefix with characters the model never saw: 400 and the model's one-line reason, not a 500."""
    r = client.post("/api/names/sample", json={"prefix": "Sm1th"})
    assert r.status_code == 400 and "never saw" in r.json()["error"]
    r = client.post("/api/names/score", json={"name": "Zoë?"})
    assert r.status_code == 400 and "never saw" in r.json()["error"]
    r = client.post("/api/text", json={"prime": "a # b"})
    assert r.status_code == 400 and "never saw" in r.json()["error"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    r = client.post("/api/melody", content=b"{" + b" " * (schemas.MAX_BODY + 1) + b"}", headers=JSON)
    assert r.status_code == 413 and "larger than" in r.json()["error"]


@pytest.mark.parametrize(
    "path", ["/../pyproject.toml", "/static/app.js", "/app.js/..%2f..%2fapp.py", "/%2e%2e/%2e%2e/etc/passwd", "/docs"]
)
def test_no_request_names_a_file(client, path):
    """Only the page's four fixed routes serve files; anything else is a JSON 404."""
    r = client.get(path)
    assert r.status_code == 404 and r.json() == {"error": "Not Found", "field": None}


def test_wrong_method_is_a_json_405(client):
    r = client.get("/api/names/sample")
    assert r.status_code == 405 and r.json()["error"]


@pytest.mark.parametrize("path", ["/", "/app.js", "/app.css", "/favicon.svg", "/api/info", "/nowhere"])
def test_every_response_carries_the_content_security_policy(client, path):
    r = client.get(path)
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-content-type-options"] == "nosniff"


def test_the_page_fetches_nothing_from_outside(client):
    """The page names no other host: no http(s) URL in its HTML, CSS or JavaScript but the SVG namespace."""
    for path in ["/", "/app.js", "/app.css"]:
        text = client.get(path).text
        urls = [w for w in text.replace('"', " ").replace("'", " ").split() if "http" in w and "://" in w]
        assert all(u.startswith("http://www.w3.org/") for u in urls), (path, urls)


def test_info_lists_the_tabs_and_the_bounds(client, serve_models):
    info = client.get("/api/info").json()
    assert info["names"]["label"] == "surnames (bundled)" and info["music"]["label"] == "Bach chorales (bundled)"
    assert info["text"] == {"label": "text"}
    assert info["limits"]["names"] == 10_000 and info["limits"]["steps"] == 2_000
    assert info["music"]["temperature"] == 1.0 and info["music"]["chords"]["temperature"] == 0.8
    assert info["limits"]["chord_beats"] == schemas.MAX_CHORD_BEATS
    bare = TestClient(create_app(names=serve_models["names"])).get("/api/info").json()
    assert bare["text"] is None and bare["music"] is None
    assert TestClient(create_app(names=serve_models["names"])).post("/api/melody", json={}).status_code == 404


def test_a_foreign_host_header_is_refused(serve_models):
    """With allowed_hosts (as rnnkit serve sets on loopback), a page served under another name gets no answer."""
    guarded = TestClient(create_app(**serve_models, allowed_hosts=["127.0.0.1", "localhost", "::1"]))
    for host in ["attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example"]:
        r = guarded.get("/api/info", headers={"host": host})
        assert r.status_code == 400 and "Host header" in r.json()["error"]
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
    for host in ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"]:
        assert guarded.get("/api/info", headers={"host": host}).status_code == 200


# -- streaming and concurrency on a live server ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(app):
    with live_server(app) as url:
        yield url


def test_text_streams_in_chunks(live, text_stream):
    """/api/text sends the text as it is made: many chunks, together the stream function's text."""
    with httpx2.Client(base_url=live) as http:
        with http.stream("POST", "/api/text", json={"prime": "the", "length": 300, "seed": 4}) as r:
            assert r.status_code == 200 and r.headers["x-seed"] == "4"
            chunks = list(r.iter_text())
    assert len(chunks) > 1
    assert "".join(chunks) == "".join(text_stream("the", 300, 1.0, 4))
    words = "the of and to in that it is was he for on are as with his they at be this from\n"  # stream_text_run's
    assert len("".join(chunks)) == 300 and set("".join(chunks)) <= set(words)


def test_concurrent_requests_give_what_serial_ones_give(live):
    """16 requests at once over names and melodies: each answer equals the one the same request got alone."""
    requests = [("/api/names/sample", {"n": 10, "seed": s}) for s in range(6)]
    requests += [("/api/names/score", {"name": name}) for name in ["Garcia", "Okafor"]]
    requests += [("/api/melody", {"steps": 32, "seed": s}) for s in range(6)]
    requests += [("/api/names/beam", {"k": 4, "prefix": p}) for p in ["A", "Be"]]
    with httpx2.Client(base_url=live, timeout=60) as http:
        alone = [http.post(path, json=body).json() for path, body in requests]
        with ThreadPoolExecutor(len(requests)) as pool:
            together = list(pool.map(lambda rb: http.post(rb[0], json=rb[1]), requests))
    assert [r.status_code for r in together] == [200] * len(requests)
    assert [r.json() for r in together] == alone


# -- the command -----------------------------------------------------------------------------------------------------
def test_serve_prints_its_url_and_stops_cleanly_on_ctrl_c():
    """`rnnkit serve --port 0` prints a loopback URL, answers there, and exits 0 without a traceback on SIGINT."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("rnnkit serve: http://127.0.0.1:"), line
        url = line.split()[2]
        assert httpx2.get(url + "api/info", timeout=10).json()["names"]["label"] == "surnames (bundled)"
        assert "<title>rnnkit</title>" in httpx2.get(url, timeout=10).text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopped" in out
    assert "Traceback" not in err, err


def test_serve_refuses_a_busy_port_in_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        start = time.monotonic()
        assert cli.main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error: --host 127.0.0.1 --port") and "\n" not in err
    assert time.monotonic() - start < 5  # refused before the models load


def test_serve_text_needs_a_stream_run(tiny_run, tmp_path, capsys):
    """--text with a name-model run, or a folder that is no run: one line, exit 2, no server started."""
    assert cli.main(["serve", "--port", "0", "--text", str(tiny_run)]) == 2
    assert "--text needs a run trained with `rnnkit text train --stream`" in capsys.readouterr().err
    assert cli.main(["serve", "--port", "0", "--text", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error:") and err.count("\n") == 1


def test_serve_without_the_extra_names_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rnnkit: error: rnnkit serve needs the serve extra: pip install 'rnnkit[serve]'"


def test_json_errors_are_one_line_for_every_bad_case(client):
    """A sweep of malformed values over every parameter: never a 500, always one JSON line."""
    junk = [None, -1, 0, 1e308, "x", [], {}, True, "9" * 400]
    fields = {
        "/api/names/sample": ["n", "temperature", "top_k", "top_p", "prefix", "novel", "seed", "max_length"],
        "/api/names/beam": ["k", "prefix", "max_length"],
        "/api/names/score": ["name"],
        "/api/melody": ["steps", "temperature", "top_k", "key", "tempo", "instrument", "seed", "primer", "track"]
        + ["chords", "beats_per_chord", "chord_instrument"],
        "/api/text": ["prime", "length", "temperature", "seed"],
    }
    small = {"/api/names/sample": {"n": 2}, "/api/melody": {"steps": 4}, "/api/text": {"length": 5}}
    for path, names in fields.items():
        for name in names:
            for value in junk:
                r = client.post(path, json={**small.get(path, {}), name: value})
                assert r.status_code < 500, (path, name, value, r.text)
                if r.status_code >= 400:
                    assert set(r.json()) == {"error", "field"} and "\n" not in r.json()["error"]
                    json.dumps(r.json())


def test_the_load_test_runs_and_counts_every_request(live, capsys):
    """benchmarks/serve_load.py on a live server: every request sent is counted, no errors, a table printed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import serve_load

    assert serve_load.main(["--clients", "3", "--requests", "4", "--url", live + "/"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 clients x 4 requests: 12 sent in") and "0 errors" in out
    assert "| all | 12 |" in out
    with pytest.raises(SystemExit, match="not on loopback"):
        serve_load.run_load("http://example.com:80/", 1, 1)
