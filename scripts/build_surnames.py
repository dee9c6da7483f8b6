"""Build src/rnnkit/data/surnames.txt.gz from the US Census 1990 surname list.

The list ships as names/dist.all.last in the `names` 0.3.0 sdist on PyPI (columns: name, frequency %,
cumulative frequency %, rank). This script writes its 88,799 names lowercase, one per line, in rank order,
gzipped with mtime=0 so the output is byte-reproducible.

    python scripts/build_surnames.py                                # pip download names==0.3.0
    python scripts/build_surnames.py --sdist /tmp/dl/names-0.3.0.tar.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST_NAME = "names-0.3.0.tar.gz"
SDIST_SHA256 = "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671"  # as served by PyPI
MEMBER = "names-0.3.0/names/dist.all.last"
EXPECTED_COUNT = 88_799
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "rnnkit" / "data" / "surnames.txt.gz"


def download_sdist(dest: Path) -> Path:
    """`pip download` the names 0.3.0 sdist into `dest` and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "names==0.3.0", "-d", str(dest)]
    subprocess.run(cmd, check=True)
    return dest / SDIST_NAME


def read_surnames(sdist: Path) -> list[str]:
    """The surnames of dist.all.last in `sdist`, lowercase, in rank order; checked for count and form."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest} is not that of {SDIST_NAME} ({SDIST_SHA256})")
    with tarfile.open(sdist, "r:gz") as tar:
        f = tar.extractfile(MEMBER)
        if f is None:
            raise SystemExit(f"{sdist}: {MEMBER} is not a regular file")
        text = f.read().decode("ascii")
    rows = [line.split() for line in text.splitlines() if line.strip()]
    if any(len(row) != 4 for row in rows):
        raise SystemExit(f"{MEMBER}: expected 4 columns (name, freq, cum. freq, rank) on every line")
    rows.sort(key=lambda row: int(row[3]))
    if [int(row[3]) for row in rows] != list(range(1, len(rows) + 1)):
        raise SystemExit(f"{MEMBER}: ranks are not 1..{len(rows)}")
    names = [row[0].lower() for row in rows]
    if len(names) != EXPECTED_COUNT or len(set(names)) != EXPECTED_COUNT:
        raise SystemExit(f"{MEMBER}: expected {EXPECTED_COUNT} unique names, got {len(set(names))}")
    if not all(re.fullmatch(r"[a-z]+", name) for name in names):
        raise SystemExit(f"{MEMBER}: expected only the letters A-Z in names")
    return names


def write_gz(names: list[str], out: Path) -> None:
    """One name per line, gzip level 9, no file name and mtime=0 in the header: same input, same bytes."""
    data = "".join(name + "\n" for name in names).encode("ascii")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as gz:
            gz.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="a local names-0.3.0.tar.gz (default: pip download it)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist if args.sdist is not None else download_sdist(Path(tmp))
        names = read_surnames(sdist)
    write_gz(names, args.out)
    print(f"wrote {len(names):,} names to {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
