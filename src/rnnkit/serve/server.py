"""`rnnkit serve`: load the models once, bind the socket, run uvicorn until Ctrl-C."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from rnnkit.errors import RnnkitError

LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1"]


def load_models(names_run=None, music_run=None, text_run=None, ngram: int | None = None) -> dict:
    """create_app's arguments: the generators of the runs (the bundled models by default) and their labels.

    ngram: mix an n-gram of that order into the name model (`rnnkit.text.train.mix_ngram`)."""
    from rnnkit.music.train import load as load_music
    from rnnkit.serve.text import load_text_stream
    from rnnkit.text.train import load as load_names

    text = load_text_stream(text_run) if text_run is not None else None  # refused first: it loads nothing
    names, music = load_names(names_run, ngram), load_music(music_run)
    # over chords: the bundled chord model, or a given run as it was trained (as `rnnkit music generate RUN --chords`)
    chords = load_music(None, chords=True) if music_run is None else music
    # the first draw compiles (or loads from numba's cache) the sampling kernels: before the first request
    names.sample(1, seed=0)
    music.generate(1, 2, seed=0)
    chords.generate_over(chords.progression("C", 1), 1, seed=0)
    label = lambda run, bundled: bundled if run is None else Path(run).name  # noqa: E731
    labels = {
        "names": label(names_run, "surnames (bundled)") + ("" if ngram is None else f" + {ngram}-gram"),
        "music": label(music_run, "Bach chorales (bundled)"),
        "chords": label(music_run, "Bach chorales with their chords (bundled)"),
    }
    if text_run is not None:
        labels["text"] = Path(text_run).name
    return {"names": names, "music": music, "chords": chords, "text": text, "labels": labels}


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port); one-line errors for a bad host or a busy port."""
    if not 0 <= port <= 65535:
        raise RnnkitError(f"--port must be in 0..65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise RnnkitError(f"--host {host}: {e.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise RnnkitError(f"--host {host} --port {port}: {e.strerror}") from None
    return sock


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8000, names=None, music=None, text=None, ngram=None, log=print) -> int:
    """Serve the page until Ctrl-C (or SIGTERM); return 0 once stopped."""
    import uvicorn

    from rnnkit.serve.app import create_app

    sock = bind(host, port)  # a busy port fails before minutes of nothing: loading takes a few seconds
    try:
        models = load_models(names, music, text, ngram)
    except BaseException:
        sock.close()
        raise
    allowed = [*LOOPBACK_NAMES, host] if is_loopback(host) else None  # DNS rebinding cannot reach a local server
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(**models, allowed_hosts=allowed), log_level="warning", access_log=False, lifespan="off"
        )
    )
    tabs = ", ".join(f"{k}: {v}" for k, v in models["labels"].items())
    log(f"rnnkit serve: {url_of(sock)}  ({tabs}; Ctrl-C to stop)", flush=True)
    if not is_loopback(host):
        log(f"warning: --host {host} lets other machines use this server; it has no login", flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down on the first Ctrl-C, then raises it again
        pass
    finally:
        sock.close()
    log("rnnkit serve: stopped", flush=True)
    return 0
