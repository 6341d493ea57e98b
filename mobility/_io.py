"""File helpers: atomic writes and content hashes."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=parent)
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


def read_yaml_mapping(path: str | Path, *, what: str, hint: str) -> dict:
    """Read a YAML (or JSON) file holding a mapping; errors name the file."""
    import yaml

    from ._errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: {what} not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: a {what} is a mapping of {hint}")
    return data


def read_yaml_model(path: str | Path, model: type, *, what: str, hint: str) -> tuple[object, dict]:
    """Read a YAML mapping and validate it with the pydantic ``model``; errors name the file and field.

    ``what`` names the kind of file ("sweep file"), ``hint`` what the mapping holds. Returns the model
    instance and the raw mapping.
    """
    from pydantic import ValidationError

    from ._errors import InputError

    p = Path(path)
    data = read_yaml_mapping(p, what=what, hint=hint)
    try:
        return model.model_validate(data), data  # type: ignore[attr-defined]
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "(file)"
        raise InputError(f"{p}: field '{where}': {e['msg']}") from None


def read_study(path: str | Path, model: type, *, what: str, hint: str):
    """Read a study file (a charging or parking study) that names a traffic scenario in ``scenario``:
    validate it, make every relative path field relative to the file's folder and check that the scenario
    exists."""
    from ._errors import InputError

    p = Path(path)
    spec, _ = read_yaml_model(p, model, what=what, hint=hint)
    base = p.resolve().parent
    spec = spec.model_copy(update={k: base / v for k, v in spec if isinstance(v, Path) and not v.is_absolute()})
    if not spec.scenario.is_file():
        raise InputError(f"{p}: field 'scenario': traffic scenario not found: {spec.scenario}; paths are relative to {p.name}")
    return spec.model_copy(update={"source_file": p.resolve()})
