"""The project folder's store: versions published one writer at a time, crash-safe, with their history.

Every change of a project (a revise, variations, a pick, a lock, refine, undo, and the full run that replaces it)
takes the output folder's lock (``.NAME.lock`` beside it, :class:`~mm2music.output.FolderLock`), first finishes
whatever a killed run left half-published (:func:`~mm2music.output.recover`), builds the next version in a
staging folder beside the project (hard links to the current files: no copy) and publishes it with one atomic
swap (:func:`~mm2music.output.publish`). A second writer is refused in one line naming the holder; a kill at
any step leaves the previous or the new version in place, or one the next command puts back.

``history/NNN/`` holds the earlier versions, newest last; ``revise --undo`` restores the newest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mm2music.errors import Mm2MusicError
from mm2music.output import FolderLock, apply_umask, clear_leftovers, lock_path, publish, recover

HISTORY = "history"

_HELD: set[Path] = set()  # projects whose lock this process holds (publishing needs it)


class ProjectError(Mm2MusicError):
    """A project folder that cannot be read or edited as asked."""


# --- one writer ---------------------------------------------------------------------------------------------


@contextmanager
def locked(folder: str | Path) -> Iterator[Path]:
    """Hold the project's lock for the block (another mm2music run on it is refused in one line, naming it),
    after putting back a version a killed run left half-published."""
    folder = Path(folder)
    parent = folder.parent
    if not parent.is_dir():
        raise ProjectError(f"'{folder}' is not an mm2music project (no folder '{parent}'); score it first (run_pipeline.py --video ...)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ProjectError(f"cannot edit the project '{folder}': the folder '{parent}' that holds it is not writable; "
                           "copy the project somewhere writable")
    lock = FolderLock(lock_path(folder), f"project '{folder}'", "wait for it to finish and try again")
    lock.acquire()
    key = folder.absolute()
    _HELD.add(key)
    try:
        recover(folder)
        yield folder
    finally:
        _HELD.discard(key)
        lock.release()


def holds_lock(folder: Path) -> bool:
    return Path(folder).absolute() in _HELD


def tidy(folder: Path) -> None:
    """For readers (the studio): finish a half-published version of ``folder`` if no run holds it now."""
    clear_leftovers(Path(folder))


def write_failed(exc: OSError, folder: Path) -> ProjectError:
    """One line for a write that failed (a full disk may raise with no errno: libsndfile's short write)."""
    reason = " ".join((exc.strerror or str(exc) or type(exc).__name__).split())
    return ProjectError(f"cannot write the new version of the project '{folder}' ({reason}); free some space or make it "
                        "writable and try again; the project was not changed")


@contextmanager
def _staged(folder: Path) -> Iterator[Path]:
    """A staging folder beside ``folder`` published in its place when the block succeeds (removed when it fails)."""
    if not holds_lock(folder):
        raise RuntimeError(f"publishing '{folder}' needs its lock: edit it inside store.locked()")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    except OSError as exc:
        raise write_failed(exc, folder) from None
    try:
        yield staging
        apply_umask(staging)  # mkdtemp made it private; a project follows the umask as a full run's folder does
        publish(staging, folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_failed(exc, folder) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- versions -------------------------------------------------------------------------------------------------


def link_tree(src: Path, dst: Path, skip: Callable[[str], bool] = lambda rel: False) -> None:
    """Hard-link every file of ``src`` into ``dst`` (same file system: no copy), except those ``skip`` names."""
    for root, _, files in os.walk(src):
        for name in files:
            s = Path(root) / name
            rel = s.relative_to(src).as_posix()
            if skip(rel):
                continue
            d = dst / rel
            d.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def history_versions(folder: Path) -> list[Path]:
    h = Path(folder) / HISTORY
    return sorted((p for p in h.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)) if h.is_dir() else []


def carry_history(previous: Path, staging: Path, keep: int | None = None) -> None:
    """Put ``previous`` (the version being replaced) and its history into ``staging``'s history, newest last,
    keeping the newest ``keep`` versions (all if None; numbers go on counting, so ``001`` may be gone)."""
    versions = history_versions(previous)
    number = int(versions[-1].name) + 1 if versions else 1
    entries = [(v, v.name, lambda rel: False) for v in versions]
    entries.append((previous, f"{number:03d}", lambda rel: rel.startswith(HISTORY + "/")))  # the version being replaced
    if keep is not None:
        entries = entries[max(0, len(entries) - keep):]
    for src, name, skip in entries:
        link_tree(src, staging / HISTORY / name, skip=skip)


@contextmanager
def next_version(folder: Path, keep_history: bool = True, keep: int | None = None) -> Iterator[Path]:
    """Yield a staging folder holding the current version (hard links); what the block writes there replaces
    files (write new files, never edit a linked one in place: :func:`replace_file`). When the block succeeds
    the current version goes to ``history/NNN/`` (if ``keep_history``) and the staging folder takes the
    project's place in one atomic swap; when it fails, the project is left exactly as it was. Call it inside
    :func:`locked`. ``keep``: how many earlier versions history keeps (the project's ``output.keep_versions``)."""
    folder = Path(folder)
    with _staged(folder) as staging:
        link_tree(folder, staging, skip=lambda rel: rel.startswith(HISTORY + "/") if keep_history else False)
        if keep_history:
            carry_history(folder, staging, keep)
        yield staging


def replace_file(path: Path) -> Path:
    """Unlink ``path`` (a hard link shared with history) so that writing it makes a new file; returns it."""
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def undo(folder: str | Path) -> int:
    """Restore the newest version in ``history/`` (it leaves the history); returns the number of versions left."""
    folder = Path(folder)
    with locked(folder):
        versions = history_versions(folder)
        if not versions:
            if not folder.is_dir():
                raise ProjectError(f"'{folder}' is not an mm2music project; score it first (run_pipeline.py --video ...)")
            raise ProjectError(f"'{folder}' has no earlier version to restore (history/ is empty); nothing was changed")
        last = versions[-1]
        with _staged(folder) as staging:
            link_tree(last, staging)
            for v in versions[:-1]:
                link_tree(v, staging / HISTORY / v.name)
            link_tree(folder / HISTORY, staging / HISTORY,
                      skip=lambda rel: rel.split("/")[0].isdigit())  # other files kept in history/ (none today)
    return len(versions) - 1


# --- what the history holds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionSize:
    """One version of a project: where it is, its number, its files' bytes, and the bytes only it holds (files
    it shares with other versions through hard links are not its own)."""

    path: Path
    version: int | None
    bytes: int
    own_bytes: int


def version_sizes(folder: Path) -> tuple[list[VersionSize], int]:
    """The current version and each version in history (newest first), and the bytes the project takes on disk
    (every file counted once)."""
    import json

    folder = Path(folder)
    seen: dict[tuple[int, int], int] = {}
    out = []
    for path in [folder, *reversed(history_versions(folder))]:
        total = own = 0
        for root, dirs, files in os.walk(path):
            if path == folder and Path(root) == folder:
                dirs[:] = [d for d in dirs if d != HISTORY]
            for name in files:
                st = os.lstat(Path(root) / name)
                total += st.st_size
                own += st.st_size if st.st_nlink == 1 else 0
                seen[(st.st_dev, st.st_ino)] = st.st_size
        try:
            version = int(json.loads((path / "project.json").read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            version = None
        out.append(VersionSize(path, version, total, own))
    return out, sum(seen.values())
