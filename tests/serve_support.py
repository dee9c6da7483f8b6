"""Helpers for the `rnnkit serve` tests: a live server on a free loopback port, and a paced text stream."""

from __future__ import annotations

import contextlib
import threading
import time


def paced(stream, pause: float = 0.003):
    """A text stream function whose chunks come at least `pause` seconds apart, as a larger model's would."""

    def slow(prime: str, length: int, temperature: float, seed: int | None):
        chunks = stream(prime, length, temperature, seed)  # a bad prime is refused here, before the first chunk
        for chunk in chunks:
            time.sleep(pause)
            yield chunk

    return slow


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
