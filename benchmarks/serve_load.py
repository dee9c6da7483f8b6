"""Load test of `rnnkit serve` on loopback: C clients x R requests mixed over the endpoints; it stops by itself.

    python benchmarks/serve_load.py                        # starts `rnnkit serve` (bundled models), 50 x 20
    python benchmarks/serve_load.py --clients 8 --requests 5 --json
    python benchmarks/serve_load.py --url http://127.0.0.1:8000/   # a server already running (loopback only)

Each client is a thread with its own keep-alive connection that sends its requests one after another, drawn
from MIX with its own seed: names (20 at a time), beam search, scoring a name, a 64-step melody, the settings and
the page. The script prints the latency percentiles over all requests and per endpoint, the throughput, and the
errors (any answer but 200, any failed connection); it exits 1 if there was one. The server runs in its own
process, so the clients' Python does not share its interpreter. As the other benchmarks, run it with
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`; it prints the BLAS kernel threadpoolctl reports.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import numpy as np

SURNAMES = ["Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Mcdonald", "Rossi", "Yamamoto"]
MIX = [  # (name, weight, method, path, body maker)
    ("names", 0.30, "POST", "/api/names/sample", lambda rng: {"n": 20, "seed": int(rng.integers(2**31))}),
    ("beam", 0.10, "POST", "/api/names/beam", lambda rng: {"k": 10, "prefix": str(rng.choice(["", "A", "Ma"]))}),
    ("score", 0.20, "POST", "/api/names/score", lambda rng: {"name": str(rng.choice(SURNAMES))}),
    ("melody", 0.25, "POST", "/api/melody", lambda rng: {"steps": 64, "seed": int(rng.integers(2**31))}),
    ("info", 0.05, "GET", "/api/info", None),
    ("page", 0.10, "GET", "/", None),
]


def client(host: str, port: int, count: int, seed: int, timeout: float, out: list, stop: threading.Event) -> None:
    """Send `count` requests drawn from MIX; append (endpoint, seconds, status or error text) to out."""
    rng = np.random.default_rng(seed)
    weights = np.array([w for _, w, *_ in MIX])
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    for _ in range(count):
        if stop.is_set():
            break
        name, _, method, path, make = MIX[rng.choice(len(MIX), p=weights / weights.sum())]
        body = None if make is None else json.dumps(make(rng))
        headers = {"Content-Type": "application/json"} if body else {}
        start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            status = f"{type(e).__name__}: {e}"
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        out.append((name, time.perf_counter() - start, status))
    conn.close()


def run_load(url: str, clients: int, requests: int, seed: int = 0, timeout: float = 120, max_seconds: float = 600):
    """Run the load against url; return the result dict (latencies in milliseconds)."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"serve_load: {url} is not on loopback; this load test only runs against this machine")
    results: list = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=client, args=(parts.hostname, parts.port, requests, seed + i, timeout, results, stop))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    deadline = start + max_seconds
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()))
    stop.set()  # past max_seconds the clients stop after their current request
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return summarize(results, elapsed, clients, requests)


def summarize(results: list, elapsed: float, clients: int, requests: int) -> dict:
    def stats(ms: np.ndarray) -> dict:
        return {
            "count": int(ms.size),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()),
        }

    errors = [(name, status) for name, _, status in results if status != 200]
    ms = np.array([s * 1000 for _, s, _ in results])
    per = {}
    for name, *_ in MIX:
        times = np.array([s * 1000 for n, s, _ in results if n == name])
        if times.size:
            per[name] = stats(times)
    return {
        "clients": clients,
        "requests_per_client": requests,
        "sent": len(results),
        "errors": len(errors),
        "error_examples": [f"{n}: {s}" for n, s in errors[:5]],
        "seconds": elapsed,
        "requests_per_s": len(results) / elapsed if elapsed > 0 else 0.0,
        "all": stats(ms) if ms.size else None,
        "endpoints": per,
    }


def machine() -> dict:
    """The machine, its BLAS kernel as threadpoolctl reports it, and how busy it was at the start."""
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = [f"{i.get('internal_api')} {i.get('architecture', '')}".strip() for i in threadpool_info()]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "processor": cpu,
        "python": platform.python_version(),
        "blas": blas,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def table(result: dict) -> str:
    a = result["all"]
    lines = [
        f"{result['clients']} clients x {result['requests_per_client']} requests: {result['sent']} sent in "
        f"{result['seconds']:.1f} s ({result['requests_per_s']:.1f} requests/s), {result['errors']} errors",
        "",
        "| endpoint | requests | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| all | {a['count']} | {a['p50_ms']:.0f} | {a['p95_ms']:.0f} | {a['max_ms']:.0f} |",
    ]
    for name, s in result["endpoints"].items():
        lines.append(f"| {name} | {s['count']} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['max_ms']:.0f} |")
    m = result["machine"]
    lines.append("")
    lines.append(
        f"{m['date']}, {m['cpus']} CPUs ({m['processor']}), Python {m['python']}, BLAS {', '.join(m['blas'])}, "
        f"load average at the start {m['load_average'][0]}"
    )
    lines.extend(f"error: {e}" for e in result["error_examples"])
    return "\n".join(lines)


def start_server(extra: list[str]) -> tuple[subprocess.Popen, str]:
    """`rnnkit serve --port 0 [extra]` in its own process (the bundled models); its URL once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit.cli", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("rnnkit serve: http://"):
        proc.kill()
        raise SystemExit(f"serve_load: rnnkit serve did not start ({line.strip() or 'no output'})")
    return proc, line.split()[2]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default: %(default)s)")
    p.add_argument("--requests", type=int, default=20, help="requests per client (default: %(default)s)")
    p.add_argument("--url", help="a running server on loopback (default: start rnnkit serve on a free port)")
    p.add_argument("--threads", type=int, help="the server's BLAS threads (rnnkit serve --threads)")
    p.add_argument("--seed", type=int, default=0, help="seed of the request mix (default: %(default)s)")
    p.add_argument("--max-seconds", type=float, default=600, help="stop sending after this long (default: 600)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if args.clients < 1 or args.requests < 1:
        p.error("--clients and --requests must be >= 1")
    if args.url and args.threads:
        p.error("--threads is for the server this script starts, not for --url")
    extra = [] if args.threads is None else ["--threads", str(args.threads)]
    proc, url = (None, args.url) if args.url else start_server(extra)
    host = machine()  # before the load: the load average says how busy the machine was already
    try:
        result = run_load(url, args.clients, args.requests, args.seed, max_seconds=args.max_seconds)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    result["machine"] = host
    result["command"] = "python benchmarks/serve_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
