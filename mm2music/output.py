"""Output folders that never lose what the user has (issue 16).

A run claims ``<out>/<name>`` before any slow work: it takes a lock beside it (``.<name>.lock``, holding the
holder's pid, host and start time), checks that it may write there, and stages its files in a hidden folder
beside it. Only when everything is written does the staging folder take the final name, in one atomic
rename that fails, rather than replace, if a folder of that name appeared meanwhile. Nothing is left behind on
failure, and the folders and files get the user's umask (``tempfile`` would make them private).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mm2music.errors import OutputError

log = logging.getLogger(__name__)

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}  # errors only a write can cause


def user_umask() -> int:
    """The process umask, read without changing it where /proc allows (``os.umask`` is a set-and-restore)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain ``mkdir``/``open`` would have given."""
    mask = user_umask()
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def write_error(exc: OSError, where: Path) -> OutputError:
    """A one-line error for a failed write (full disk, read-only file system, ...)."""
    reason = exc.strerror or type(exc).__name__
    fix = "free some space or pass --out on another disk" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "pass --out with a writable folder"
    return OutputError(f"cannot write the output in '{where}' ({reason}); {fix}; nothing was written")


# --- names ------------------------------------------------------------------------------------------


def slug(text: str, words: int = 6, limit: int = 40) -> str:
    """A short, filesystem-safe name from a text: 'A joyful wedding!' -> 'a-joyful-wedding'."""
    tokens = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return "-".join(tokens)[:limit].strip("-") or "text"


def safe_name(name: str) -> str:
    """Refuse names that would escape the output directory."""
    cleaned = name.strip()
    if not cleaned or cleaned in (".", "..") or "/" in cleaned or "\\" in cleaned or "\0" in cleaned:
        raise OutputError(f"output name {name!r} is not a plain folder name; pass --name with letters, digits, '-' or '_'")
    return cleaned


# --- locks --------------------------------------------------------------------------------------------


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``path``; the file says who holds it and is removed on release."""

    def __init__(self, path: Path, what: str, fix: str):
        self.path, self.what, self.fix = path, what, fix
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise write_error(exc, self.path.parent) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise OutputError(f"{self.what} is in use by another mm2music run ({holder}); {self.fix}") from None
            try:  # the previous holder may have removed the file between our open and our lock: retry on the new one
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        holder = f"pid {os.getpid()} on {socket.gethostname()}, since {started}"
        self.fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, only its note of who holds it is missing
            pass
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: the next taker re-checks the inode
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds the lock on ``fd``: the holder writes it just after locking, so an empty file is read again briefly."""
    for _ in range(10):
        holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip()
        if holder:
            return holder
        time.sleep(0.02)
    return "a run that is starting"


def lock_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.lock")


# --- atomic rename ------------------------------------------------------------------------------------

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
EXCHANGE = True  # swap a published folder in one rename where the file system can (False: two renames, recovered)


def _renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_RENAMEAT2 = _renameat2()


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """Linux ``renameat2(src, dst, flags)``: True when done, False when this kernel or file system cannot;
    ``FileExistsError`` / ``OSError`` for the other failures."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        raise FileExistsError(errno.EEXIST, os.strerror(err), str(dst))
    if err in (errno.ENOSYS, errno.EINVAL):  # EINVAL: the file system has no such flag
        return False
    raise OSError(err, os.strerror(err), str(dst))


def rename_no_replace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` atomically, raising ``FileExistsError`` if ``dst`` exists (Linux ``renameat2``;
    elsewhere a check just before the rename)."""
    if _rename2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "File exists", str(dst))
    os.rename(src, dst)


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one atomic rename (Linux ``RENAME_EXCHANGE``); False where the file
    system cannot (then nothing was changed)."""
    return EXCHANGE and _rename2(a, b, _RENAME_EXCHANGE)


# --- claiming an output folder ------------------------------------------------------------------------


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; return the folders created (deepest last), to remove them again on failure."""
    missing = []
    probe = folder
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"output path '{probe}' is a file, not a folder; pass --out with a folder")
    created = []
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_empty(created)
            raise OutputError(f"cannot create output folder '{p}' ({exc.strerror}); pass --out with a writable folder") from None
        created.append(p)
    return created


def _remove_empty(folders: list[Path]) -> None:
    for p in reversed(folders):
        try:
            p.rmdir()
        except OSError:
            break


def check_final(final: Path, overwrite: bool, replaceable: Callable[[Path], bool] | None) -> None:
    if not os.path.lexists(final):
        return
    if not final.is_dir() or final.is_symlink():
        raise OutputError(f"output path '{final}' exists and is not a folder; pass --name to choose another name")
    if overwrite or (replaceable is not None and replaceable(final)):
        return
    raise OutputError(f"output folder '{final}' already exists; pass --overwrite to replace it or --name to choose another")


def recover(final: Path) -> bool:
    """Finish what a run killed while publishing ``final`` left beside it (call with the lock held): a folder it
    had moved aside (``.NAME.old-*``) is put back when ``final`` is missing, the rest (staging folders, the
    replaced folder once the new one is in place) is removed. True if a folder was put back."""
    olds = sorted(final.parent.glob(f".{glob.escape(final.name)}.old-*"), key=lambda p: p.lstat().st_mtime)
    restored = False
    if olds and not os.path.lexists(final):
        rename_no_replace(olds.pop(), final)
        log.warning("'%s' was left half-replaced by a run that was killed; its previous version is back in place", final)
        restored = True
    for p in _stale(final):
        shutil.rmtree(p, ignore_errors=True)
    return restored


def _stale(final: Path) -> list[Path]:
    """Staging and trash folders of runs for ``final`` (only a killed run leaves them)."""
    name = glob.escape(final.name)
    return [p for pattern in (f".{name}.partial-*", f".{name}.old-*") for p in final.parent.glob(pattern)]


def clear_leftovers(final: Path) -> None:
    """Tidy what a run killed while publishing ``final`` left beside it (:func:`recover`: its lock file, a
    replaced folder's trash, a half-published folder), unless another run holds ``final`` now."""
    if not os.path.lexists(lock_path(final)) and not _stale(final):
        return
    lock = FolderLock(lock_path(final), f"output folder '{final}'", "")
    try:
        lock.acquire()
    except OutputError:
        return  # in use: its holder tidies up
    try:
        recover(final)
    finally:
        lock.release()


@contextmanager
def claimed_output(final: Path, overwrite: bool = False, replaceable: Callable[[Path], bool] | None = None,
                   seal: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Lock ``final``, check it may be written, yield a staging folder beside it and publish it as ``final`` when
    the block succeeds. An existing ``final`` is replaced only with ``overwrite`` or when ``replaceable(final)``
    says so (checked again at the rename). ``seal(staging)`` runs last, before the rename (e.g. a batch's
    completion record, so a published folder always carries it). On any failure nothing is left behind."""
    created = _make_parents(final.parent)
    lock = FolderLock(lock_path(final), f"output folder '{final}'", "wait for it to finish or pass --name to choose another")
    try:
        lock.acquire()
    except BaseException:
        _remove_empty(created)
        raise
    staging = None
    try:
        recover(final)
        check_final(final, overwrite, replaceable)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
        except OSError as exc:
            raise write_error(exc, final.parent) from None
        try:
            yield staging
            if seal is not None:
                seal(staging)
            apply_umask(staging)
        except OSError as exc:
            if exc.errno in _WRITE_ERRNOS or exc.errno is None:  # libsndfile's short write carries no errno
                raise write_error(exc, final) from None
            raise
        publish(staging, final, overwrite, replaceable)
        staging = None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        lock.release()
        _remove_empty(created)
        raise
    lock.release()


def publish(staging: Path, final: Path, overwrite: bool = True, replaceable: Callable[[Path], bool] | None = None) -> None:
    """Put the complete folder ``staging`` in place of ``final`` (call with the lock held). An existing ``final``
    is swapped out in one atomic rename and removed after; where the file system cannot swap, it is moved
    aside first (a kill between the two renames leaves it as ``.NAME.old-PID``, which :func:`recover` puts
    back). At every instant ``final`` is the previous or the new version, or recoverable to the previous one."""
    if not os.path.lexists(final):
        _rename_into_place(staging, final, None)
        return
    check_final(final, overwrite, replaceable)
    if exchange(staging, final):
        old = staging  # holds the replaced folder now
        if not overwrite and replaceable is not None and not replaceable(old):  # swapped meanwhile: put it back
            exchange(staging, final)
            raise OutputError(f"output folder '{final}' changed while this run was working; nothing was replaced, "
                              "re-run to try again")
        shutil.rmtree(old, ignore_errors=True)
        return
    trash = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.rename(final, trash)
    if not overwrite and replaceable is not None and not replaceable(trash):  # swapped meanwhile: put it back
        try:
            rename_no_replace(trash, final)
        except OSError:
            kept = final.with_name(f"{final.name}.kept-{os.getpid()}")
            os.rename(trash, kept)
            raise OutputError(f"output folder '{final}' changed while this run was working; it is kept as '{kept}' "
                              "and nothing was replaced") from None
        raise OutputError(f"output folder '{final}' changed while this run was working; nothing was replaced, "
                          "re-run to try again")
    _rename_into_place(staging, final, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _rename_into_place(staging: Path, final: Path, trash: Path | None) -> None:
    try:
        rename_no_replace(staging, final)
    except FileExistsError:
        kept = None
        if trash is not None:  # out of the way of recover(), which would remove it now that final exists
            kept = final.with_name(f"{final.name}.kept-{os.getpid()}")
            os.rename(trash, kept)
        also = f" (the previous one is kept as '{kept}')" if kept is not None else ""
        raise OutputError(f"output folder '{final}' was created by something else while this run was working; it was "
                          f"left as it is{also}; pass --name to choose another name") from None
