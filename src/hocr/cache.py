"""hocr's on-disk cache: derived data only, never trusted from anywhere.

Some entries are, or will be, code (issue 13's compiled rulebook is Python that is executed),
so an entry is used only when all of these hold,
and otherwise the cache is ignored and the data is derived again (see docs/hardening.md):

* the folder is a real folder (not a symbolic link), owned by the user running hocr and not
  writable by group or others; hocr creates it with mode 0700;
* the entry is a regular file (not a link), owned by the user, not writable by group or others
  (hocr writes it with mode 0600, through a temporary file and an atomic rename);
* its header names the key asked for, and the SHA-256 of its payload matches the header.

The key of every entry includes :func:`package_fingerprint` (a hash of every module of this
hocr, its version and the Python that runs it), so no other version of hocr, and no other
Python, ever reads an entry; each kind of entry adds its own inputs (the rulebook hash, the
schema). Deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from functools import cache
from pathlib import Path

_MAGIC = b"hocr-cache-1\n"


def root() -> Path | None:
    """The cache folder ($HOCR_CACHE_DIR, else $XDG_CACHE_HOME/hocr or ~/.cache/hocr); None when
    HOCR_NO_CACHE is set."""
    if os.environ.get("HOCR_NO_CACHE"):
        return None
    folder = os.environ.get("HOCR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "hocr"
    )
    return Path(folder)


@cache
def package_fingerprint() -> str:
    """A hash of every module of this hocr, its version and the running Python."""
    h = hashlib.sha256()
    h.update(sys.version.encode() + b"\0" + sys.implementation.cache_tag.encode() + b"\0")
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    from . import __version__

    h.update(__version__.encode())
    return h.hexdigest()


def entry_key(kind: str, *parts: bytes | str) -> str:
    """The key of an entry: its kind, this package's fingerprint and the inputs it derives from."""
    h = hashlib.sha256(kind.encode() + b"\0" + package_fingerprint().encode())
    for part in parts:
        h.update(b"\0" + (part.encode() if isinstance(part, str) else part))
    return h.hexdigest()


def _unsafe(st: os.stat_result, want_dir: bool) -> str | None:
    """Why a folder or file may not be trusted, or None when it may."""
    kind_ok = stat.S_ISDIR(st.st_mode) if want_dir else stat.S_ISREG(st.st_mode)
    if not kind_ok:
        return "not a folder" if want_dir else "not a regular file"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "owned by another user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others"
    return None


def _folder(create: bool) -> Path | None:
    folder = root()
    if folder is None:
        return None
    try:
        if create and not os.path.lexists(folder):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    why = _unsafe(st, want_dir=True)
    if why is not None:
        _warn_once(f"hocr: not using the cache folder {folder}: {why} (see docs/hardening.md)")
        return None
    return folder


@cache
def _warn_once(message: str) -> None:
    import logging  # only when there is something to say: it is slow to import

    logging.getLogger("hocr.cache").warning(message)


def _name(kind: str, key: str) -> str:
    return f"{kind}-{key[:32]}.bin"


def read(kind: str, key: str) -> bytes | None:
    """The payload stored under ``key``, or None when there is none or it cannot be trusted."""
    folder = _folder(create=False)
    if folder is None:
        return None
    path = folder / _name(kind, key)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if _unsafe(os.fstat(f.fileno()), want_dir=False) is not None:
            return None
        data = f.read()
    head, sep, payload = data.partition(b"\n\n")
    expected = _MAGIC + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode()
    if not sep or head != expected:
        return None
    return payload


def write(kind: str, key: str, payload: bytes, keep: int = 8) -> None:
    """Store ``payload`` under ``key`` (owner-only, atomically); keep the newest ``keep`` entries of
    the kind. Any failure leaves the cache as it was: it is only ever a shortcut."""
    folder = _folder(create=True)
    if folder is None:
        return
    path = folder / _name(kind, key)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    header = _MAGIC + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n\n"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(header + payload)
        os.replace(tmp, path)
        old = sorted(folder.glob(f"{kind}-*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[keep:]:
            stale.unlink(missing_ok=True)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
