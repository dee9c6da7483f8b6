"""The web app: one page and a JSON API over the models that `rnnkit serve` loaded at start-up.

    GET  /                    the page (index.html, app.js, app.css, favicon.svg: fixed routes, no file paths)
    GET  /api/info            which tabs there are, the models' defaults and the request bounds
    POST /api/names/sample    {n, temperature, top_k, top_p, prefix, novel, seed, max_length} -> {names, seed}
    POST /api/names/beam      {k, prefix, max_length} -> {names: [{name, log_prob}]}
    POST /api/names/score     {name} -> {name, chars, probs, end, log_prob, reverse}
    POST /api/melody          {steps, temperature, top_k, key, tempo, instrument, seed, primer, track,
                               chords, beats_per_chord, chord_instrument}
                              -> {notes: [{pitch, start, duration}], chords: [{start, end, pitches, symbol}], ...,
                                  midi: base64}
    POST /api/text            {prime, length, temperature, seed} -> text/plain, streamed as it is sampled

Starlette routes the requests and pydantic models (schemas.py) check every parameter's bounds before a handler runs.
Handlers are thin: each calls the Python API the CLI calls (NameGenerator.sample / beam / char_log_probs,
MelodyGenerator.generate / progression / generate_over / write) in a worker thread, and each model is used under its
own lock, so concurrent requests never share a model mid-step. Every error is a JSON object {"error": one line,
"field": the parameter or null} with a 4xx status; nothing answers with a traceback. Starlette has no automatic API
docs (nothing to fetch from a CDN) and sends nothing anywhere.
"""

from __future__ import annotations

import base64
import logging
import math
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rnnkit.errors import RnnkitError
from rnnkit.serve import schemas
from rnnkit.serve.text import TextStream

log = logging.getLogger("rnnkit.serve")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {  # route -> (file in rnnkit/serve/static, media type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}


def create_app(
    names=None,
    music=None,
    text: TextStream | None = None,
    labels: dict[str, str] | None = None,
    allowed_hosts: list[str] | None = None,
    chords=None,
) -> Starlette:
    """The app over a NameGenerator, a MelodyGenerator and a text stream function (each may be None: no tab).

    chords: the MelodyGenerator that writes melodies over chords on the melodies tab (None: no chords option; it
    may be `music` itself). labels: what the page calls each model ("surnames (bundled)"); allowed_hosts: the
    Host headers accepted (None: any), so that a page on another site cannot reach a loopback server through
    DNS rebinding.
    """
    labels = labels or {}
    about = {
        "names": None if names is None else {"label": labels.get("names", "names"), "title_case": names.title_case},
        "music": None if music is None else _music_info(music, chords, labels),
        "text": None if text is None else {"label": labels.get("text", "text")},
        "limits": {
            "names": schemas.MAX_NAMES,
            "beam": schemas.MAX_BEAM,
            "name_length": schemas.MAX_NAME_LENGTH,
            "text": schemas.MAX_TEXT,
            "prime": schemas.MAX_PRIME,
            "steps": schemas.MAX_STEPS,
            "upload": schemas.MAX_UPLOAD,
            "chords_text": schemas.MAX_CHORDS_TEXT,
            "chord_beats": schemas.MAX_CHORD_BEATS,
            "beats_per_chord": schemas.MAX_BEATS_PER_CHORD,
        },
    }

    async def info(request: Request) -> JSONResponse:
        return JSONResponse(about)

    routes = [*_static_routes(), Route("/api/info", info)]
    if names is not None:
        routes += _names_routes(names)
    if music is not None:
        routes += _music_routes(music, chords)
    if text is not None:
        routes += _text_routes(text)
    middleware = [Middleware(Guard, allowed_hosts=allowed_hosts)]  # its headers go on every response, errors too
    return Starlette(routes=routes, middleware=middleware, exception_handlers=_error_handlers())


async def parse(request: Request, schema: type[BaseModel]) -> BaseModel:
    """The request's JSON body as `schema` (an empty body: all defaults); ValidationError -> 422."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind != "application/json":  # also keeps cross-site forms out: JSON from another site needs a preflight
        raise HTTPException(415, "send the parameters as JSON (Content-Type: application/json)")
    return schema.model_validate_json(body or b"{}")


def json_route(path: str, schema: type[BaseModel], work: Callable[[BaseModel], dict]) -> Route:
    """POST path: parse the body as `schema`, run work(request) in a worker thread, answer its dict as JSON."""

    async def endpoint(request: Request) -> JSONResponse:
        req = await parse(request, schema)
        return JSONResponse(await run_in_threadpool(work, req))

    return Route(path, endpoint, methods=["POST"])


# -- names -----------------------------------------------------------------------------------------------------
def _names_routes(gen) -> list[Route]:
    lock = threading.Lock()

    def sample(req: schemas.NamesSample) -> dict:
        seed = _seed(req.seed)
        with lock:
            names = gen.sample(
                req.n,
                temperature=req.temperature,
                top_k=req.top_k,
                top_p=req.top_p,
                prefix=req.prefix,
                seed=seed,
                max_length=req.max_length,
                novel=req.novel,
            )
        return {"names": names, "seed": seed}

    def beam(req: schemas.NamesBeam) -> dict:
        with lock:
            found = gen.beam(req.k, prefix=req.prefix, max_length=req.max_length)
        return {"names": [{"name": s.name, "log_prob": s.log_prob} for s in found]}

    def score(req: schemas.NameScore) -> dict:
        with lock:
            s = gen.char_log_probs(req.name)
        # each character's, then the end's (a --reverse run's: the start's)
        probs = [math.exp(lp) for lp in s.log_probs]
        return {
            "name": s.name,
            "chars": list(s.chars),
            "probs": probs[:-1],
            "end": probs[-1],
            "log_prob": s.log_prob,
            "reverse": gen.reverse,  # a --reverse run: each character given those after it, not before
        }

    return [
        json_route("/api/names/sample", schemas.NamesSample, sample),
        json_route("/api/names/beam", schemas.NamesBeam, beam),
        json_route("/api/names/score", schemas.NameScore, score),
    ]


# -- melodies --------------------------------------------------------------------------------------------------
def _music_info(gen, chords, labels: dict[str, str]) -> dict:
    from rnnkit.music.midi import GM_INSTRUMENTS

    over = None
    if chords is not None:
        over = {"label": labels.get("chords", "chords"), "temperature": chords.default_temperature}
    return {
        "label": labels.get("music", "melodies"),
        "tempo": gen.tempo_bpm,
        "temperature": gen.default_temperature,
        "instruments": sorted(GM_INSTRUMENTS),
        "chords": over,
    }


def _music_routes(gen, chord_gen=None) -> list[Route]:
    from rnnkit.music.midi import chord_blocks, instrument_program, read_midi_bytes
    from rnnkit.music.tokens import REST

    locks = {id(g): threading.Lock() for g in (gen, chord_gen) if g is not None}  # one per model (they may be one)

    def over_chords(req: schemas.Melody, seed: int):
        """The melody over req.chords, as `rnnkit music generate --chords` writes it (checks as its flags)."""
        if chord_gen is None:
            raise FieldError("chords: this server has no model for melodies over chords", "chords")
        if req.primer is not None:
            raise FieldError("primer: a primer cannot be combined with chords", "primer")
        if "steps" in req.model_fields_set:
            raise FieldError("steps: over chords the melody lasts as long as the chords; leave steps out", "steps")
        try:
            progression = chord_gen.progression(req.chords, req.beats_per_chord, flag="chords")
        except RnnkitError as e:
            raise FieldError(str(e), "chords") from None
        if len(progression) > schemas.MAX_CHORD_BEATS:
            raise FieldError(
                f"chords: {len(progression)} beats, more than the {schemas.MAX_CHORD_BEATS} a melody may last", "chords"
            )
        temperature = chord_gen.default_temperature if req.temperature is None else req.temperature
        with locks[id(chord_gen)]:
            [generated] = chord_gen.generate_over(progression, 1, temperature, top_k=req.top_k, seed=seed)
        return chord_gen, generated, temperature

    def melody(req: schemas.Melody) -> dict:
        seed = _seed(req.seed)
        prime = None
        if req.chords is not None:
            model, generated, temperature = over_chords(req, seed)
        else:
            if req.beats_per_chord is not None:
                raise FieldError("beats_per_chord: needs chords", "beats_per_chord")
            data = req.primer_bytes()
            try:
                prime = None if data is None else read_midi_bytes(data, "the primer", req.track)
            except RnnkitError as e:
                raise FieldError(str(e), "primer") from None
            model, temperature = gen, (gen.default_temperature if req.temperature is None else req.temperature)
            with locks[id(gen)]:
                [generated] = gen.generate(1, req.steps, temperature, top_k=req.top_k, prime=prime, seed=seed)
        # as `rnnkit music generate`: a primer lends its tempo and time signature unless a tempo is given
        tempo = req.tempo if req.tempo is not None else (prime.tempo_bpm if prime is not None else None)
        with tempfile.TemporaryDirectory(prefix="rnnkit-serve-") as folder:
            [written] = model.write(
                [generated],
                Path(folder) / "melody.mid",
                tempo_bpm=tempo,
                key=req.key,
                instrument=req.instrument,
                time_signature=prime.time_signature if prime is not None else None,
                chord_instrument=req.chord_instrument,
            )
            midi = written.midi.read_bytes()
        m = written.melody  # as written: in the output key, at its tempo
        starts = m.durations.cumsum() - m.durations  # (T,) beats
        notes = [
            {"pitch": int(p), "start": float(s), "duration": float(d)}
            for p, s, d in zip(m.pitches, starts, m.durations, strict=True)
            if p != REST
        ]
        blocks = [] if m.chords is None else chord_blocks(m.chords)  # the chord track as written, voiced
        return {
            "notes": notes,
            "chords": [{"start": s, "end": e, "pitches": p, "symbol": c.symbol} for s, e, p, c in blocks],
            "events": len(m),
            "beats": m.total_beats,
            "key": m.key.name,
            "tempo": m.tempo_bpm,
            "time_signature": list(m.time_signature),
            "program": instrument_program(req.instrument),
            "chord_program": instrument_program(req.chord_instrument),
            "temperature": temperature,
            "seed": seed,
            "midi": base64.b64encode(midi).decode("ascii"),
        }

    return [json_route("/api/melody", schemas.Melody, melody)]


# -- text ------------------------------------------------------------------------------------------------------
def _text_routes(stream: TextStream) -> list[Route]:
    lock = threading.Lock()

    def locked_next(chunks: Iterator[str]) -> str | None:
        with lock:
            return next(chunks, None)

    def chunks_after(first: str | None, chunks: Iterator[str]) -> Iterator[str]:
        chunk = first
        try:
            while chunk is not None:
                yield chunk
                chunk = locked_next(chunks)
        except RnnkitError as e:  # the status line has gone: end the text early, say why in the log
            log.warning("text stream stopped: %s", e)

    async def text(request: Request) -> StreamingResponse:
        req = await parse(request, schemas.TextStream)
        seed = _seed(req.seed)
        chunks = iter(stream(req.prime, req.length, req.temperature, seed))
        first = await run_in_threadpool(locked_next, chunks)  # a bad prime fails here, while a 400 can be sent
        headers = {"X-Seed": str(seed)}
        return StreamingResponse(chunks_after(first, chunks), media_type="text/plain; charset=utf-8", headers=headers)

    return [Route("/api/text", text, methods=["POST"])]


# -- the page --------------------------------------------------------------------------------------------------
def _static_routes() -> list[Route]:
    """One GET route per file of the page, read once: no request can name a file."""
    folder = files("rnnkit.serve").joinpath("static")
    routes = []
    for path, (name, media_type) in STATIC.items():
        body = folder.joinpath(name).read_bytes()

        async def page(request: Request, body=body, media_type=media_type) -> Response:
            return Response(body, media_type=media_type)

        routes.append(Route(path, page))
    return routes


# -- errors ----------------------------------------------------------------------------------------------------
class FieldError(RnnkitError):
    """A refusal that is about one parameter, so the page shows it next to that control."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def _error_handlers() -> dict:
    async def invalid(request: Request, exc: ValidationError) -> JSONResponse:
        message, field = validation_message(exc.errors())
        return _error(422, message, field)

    async def refused(request: Request, exc: RnnkitError) -> JSONResponse:
        return _error(400, " ".join(str(exc).split()), getattr(exc, "field", None))

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    async def crashed(request: Request, exc: Exception) -> JSONResponse:  # a bug: logged here, one line there
        log.exception("error in %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server's log has the details")

    return {ValidationError: invalid, RnnkitError: refused, HTTPException: http_error, Exception: crashed}


def validation_message(errors) -> tuple[str, str | None]:
    """One line from pydantic's first error, and the parameter it is about (None for the body as a whole)."""
    err = errors[0]
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    field = loc[0] if loc else None
    kind = err.get("type", "")
    if kind == "json_invalid":
        return "the request body is not valid JSON", None
    if not loc:
        return "the request body must be a JSON object of parameters", None
    message = {"extra_forbidden": "unknown parameter", "missing": "required"}.get(kind, err.get("msg", "invalid"))
    message = " ".join(message.removeprefix("Value error, ").split())
    return f"{'.'.join(loc)}: {message}", field


def _seed(seed: int | None) -> int:
    """The request's seed, or a fresh one that the answer reports, so any result can be drawn again."""
    return secrets.randbelow(schemas.MAX_SEED + 1) if seed is None else seed


# -- the guard around every request ----------------------------------------------------------------------------
class Guard:
    """ASGI middleware around every request.

    Refuses a Host header that is not in allowed_hosts (None: any), a body over MAX_BODY (413), and puts
    SECURITY_HEADERS on every response.
    """

    def __init__(self, app, allowed_hosts: list[str] | None = None):
        self.app = app
        self.allowed_hosts = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_secured(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        headers = Headers(scope=scope)
        if self.allowed_hosts is not None and host_name(headers.get("host", "")) not in self.allowed_hosts:
            refused = _error(400, "this server answers only to its own address (the Host header names another)")
            return await refused(scope, receive, send_secured)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > schemas.MAX_BODY):
            too_big = _error(413, f"the request is larger than {schemas.MAX_BODY // 1000:,} kB")
            return await too_big(scope, receive, send_secured)
        received = 0

        async def receive_limited():  # a body sent without a length is counted as it arrives
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > schemas.MAX_BODY:
                raise HTTPException(413, f"the request is larger than {schemas.MAX_BODY // 1000:,} kB")
            return message

        await self.app(scope, receive_limited, send_secured)


def host_name(host: str) -> str:
    """The name in a Host header, without the port: "127.0.0.1:8000" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
