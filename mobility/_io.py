"""File helpers: atomic writes, content hashes, gzip-transparent reading."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    The parent folder must exist (nothing is created on the caller's behalf). On any exception the
    temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        from ._errors import InputError

        raise InputError(f"cannot write {target}: folder {parent.resolve()} does not exist; create it first")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        from ._errors import InputError

        raise InputError(f"cannot write {target}: {exc.strerror or exc} in folder {parent.resolve()}; choose "
                         "another place") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def open_maybe_gzip(path: str | Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing it when it is gzipped (SUMO reads ``*.xml.gz`` too)."""
    import gzip

    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")  # type: ignore[return-value]


def write_text_atomic(target: str | Path, text: str) -> Path:
    """Write ``text`` to ``target`` through a temporary file and an atomic rename."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_TEMP_DIRS: list[str] = []


def session_tempdir(prefix: str = "mobility-") -> Path:
    """A new temporary folder, removed when the interpreter exits (if still there)."""
    d = tempfile.mkdtemp(prefix=prefix)
    if not _TEMP_DIRS:
        atexit.register(lambda: [shutil.rmtree(x, ignore_errors=True) for x in _TEMP_DIRS])
    _TEMP_DIRS.append(d)
    return Path(d)


def cached_by_file(fn: _F) -> _F:
    """Memoise ``fn(path, **options)`` on the file's resolved path, size and modification time, so a
    network read for one purpose is not parsed again for the next; a changed file is read again.
    Returns a shallow copy of a cached dict, so callers cannot change the cache."""
    import functools

    @functools.lru_cache(maxsize=8)
    def cached(key: tuple[str, int, int], options: tuple[tuple[str, Any], ...]) -> Any:
        return fn(key[0], **dict(options))

    @functools.wraps(fn)
    def wrapper(path: str | Path, **options: Any) -> Any:
        p = Path(path)
        if not p.is_file():
            return fn(path, **options)  # the function's own error
        st = p.stat()
        out = cached((str(p.resolve()), st.st_size, st.st_mtime_ns), tuple(sorted(options.items())))
        return dict(out) if isinstance(out, dict) else out

    return wrapper  # type: ignore[return-value]
