"""bench/real_footage.py without the network: a Debian source read from a tiny .deb built here."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from bench import real_footage
from bench.real_footage import DebianSource, FetchError

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

MEDIA = b"not really a video, but bytes with a known sha256\n"
MEMBER = "usr/share/doc/demo/clip.avi"


def build_deb(folder, name="demo", version="1.0-1"):
    """A minimal binary package holding MEMBER (and a link beside it), named as apt names its downloads."""
    root = folder / "root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"
    )
    clip = root / MEMBER
    clip.parent.mkdir(parents=True)
    clip.write_bytes(MEDIA)
    (clip.parent / "link.avi").symlink_to("clip.avi")
    packages = folder / "cache" / "packages"
    packages.mkdir(parents=True)
    deb = packages / f"{name}_{version.replace(':', '%3a')}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb


def source(**changes):
    fields = {"name": "demo_clip", "package": "demo", "version": "1.0-1", "member": MEMBER,
              "sha256": hashlib.sha256(MEDIA).hexdigest()}  # fmt: skip
    return DebianSource(**{**fields, **changes})


def test_fetch_extracts_the_member_from_a_downloaded_deb_and_checks_it(tmp_path, monkeypatch):
    build_deb(tmp_path)
    monkeypatch.setitem(real_footage.SOURCES, "demo_clip", source())
    path = real_footage.fetch("demo_clip", tmp_path / "cache")
    assert path == tmp_path / "cache" / "demo_clip.avi"
    assert path.read_bytes() == MEDIA
    assert real_footage.fetch("demo_clip", tmp_path / "cache") == path  # cached: no second extraction needed


def test_an_epoch_is_found_in_the_file_name_apt_writes(tmp_path):
    deb = build_deb(tmp_path, version="2:1.0-1")
    assert source(version="2:1.0-1").archive(tmp_path / "cache" / "packages") == deb


def test_a_wrong_sha256_is_one_line_and_leaves_no_file(tmp_path, monkeypatch):
    build_deb(tmp_path)
    monkeypatch.setitem(real_footage.SOURCES, "demo_clip", source(sha256="0" * 64))
    expected = r"^usr/share/doc/demo/clip\.avi from demo=1\.0-1 \(Debian\) has sha256 [0-9a-f]{64}, expected 0{64}$"
    with pytest.raises(FetchError, match=expected):
        real_footage.fetch("demo_clip", tmp_path / "cache")
    assert not (tmp_path / "cache" / "demo_clip.avi").exists()


@pytest.mark.parametrize(
    ("member", "message"),
    [("usr/share/doc/demo/missing.avi", r"is not in demo_1\.0-1_all\.deb; check the path with dpkg-deb -c$"),
     ("usr/share/doc/demo/link.avi", r"is not a regular file \(a link\?\); name its target$")],
)  # fmt: skip
def test_a_member_that_is_missing_or_a_link_is_named(tmp_path, monkeypatch, member, message):
    build_deb(tmp_path)
    monkeypatch.setitem(real_footage.SOURCES, "demo_clip", source(member=member))
    with pytest.raises(FetchError, match=message):
        real_footage.fetch("demo_clip", tmp_path / "cache")


def test_a_failed_download_command_is_one_line_with_its_complaint(tmp_path):
    cmd = ["sh", "-c", "echo 'W: noise' >&2; echo \"E: Version '9' for 'demo' was not found\" >&2; exit 100"]
    with pytest.raises(FetchError) as info:
        real_footage._call(cmd, tmp_path, source())
    said = "E: Version '9' for 'demo' was not found"
    assert str(info.value) == f"could not fetch demo_clip from demo=1.0-1 (Debian): sh -c exited 100: {said}"


def test_every_labelled_clip_has_a_pinned_source():
    labels = real_footage.load_labels()["clips"]
    assert set(labels) <= set(real_footage.SOURCES)
    for name, src in real_footage.SOURCES.items():
        assert len(src.sha256) == 64 and int(src.sha256, 16) >= 0, name
        if isinstance(src, DebianSource):
            assert "=" not in src.package and src.version and not src.member.startswith("/"), name


def test_a_damaged_cached_copy_is_replaced(tmp_path, monkeypatch):
    build_deb(tmp_path)
    monkeypatch.setitem(real_footage.SOURCES, "demo_clip", source())
    (tmp_path / "cache" / "demo_clip.avi").write_bytes(b"truncated")
    assert real_footage.fetch("demo_clip", tmp_path / "cache").read_bytes() == MEDIA
