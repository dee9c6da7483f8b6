"""Helpers for the `rnnkit serve` tests: a live server on a free loopback port, and a stand-in text stream."""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from rnnkit.errors import RnnkitError

WORDS = "the of and to in that it is was he for on are as with his they at be this from".split()


def fake_text(prime: str, length: int, temperature: float, seed: int | None):
    """Stands in for the free-text stream mode (not in rnnkit yet): `length` characters in word-sized chunks.

    A short pause between chunks makes them reach the page one by one, as a sampler's would; a prime with '#'
    is refused before the first chunk, as a prime with characters a model never saw.
    """
    if "#" in prime:
        raise RnnkitError(f"prime {prime!r} has characters the model never saw: '#'")
    rng = np.random.default_rng(seed)
    made = 0
    while made < length:
        chunk = (WORDS[rng.integers(len(WORDS))] + " ")[: length - made]
        made += len(chunk)
        time.sleep(0.003)
        yield chunk


@contextlib.contextmanager
def live_server(app):
    """Serve `app` with uvicorn on 127.0.0.1 and a free port, in a thread; yields the base URL."""
    import uvicorn

    from rnnkit.serve.server import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
