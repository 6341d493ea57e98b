"""One spec base and one reader for every file kind the toolkit reads.

Every file (scenario, study, plaza, sweep, layout, schedule, plans) is a frozen pydantic model built
on :class:`Spec` and read by :func:`read_spec`, which reports every problem at once, each as
``file:line: field 'a.b': problem; fix``.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._errors import InputError, missing_file

__all__ = ["Dist", "Spec", "format_errors", "node_line", "read_csv_rows", "read_document", "read_mapping", "read_spec", "read_study", "study_from_dict", "validate"]

#: Files larger than this are refused before parsing (a spec file is a few kilobytes).
MAX_SPEC_BYTES = 16 * 1024 * 1024
#: Values a spec may hold once YAML aliases are expanded.
MAX_SPEC_NODES = 1_000_000


class Spec(BaseModel):
    """Base of every spec: frozen, unknown fields refused, no infinities or NaNs.

    ``ordered_fields`` lists ``(earlier, later)`` field pairs that must be strictly increasing
    (``("begin_s", "end_s")``); unset optional ends are skipped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    ordered_fields: ClassVar[tuple[tuple[str, str], ...]] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Spec:
        for lo, hi in self.ordered_fields:
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and not b > a:
                raise ValueError(f"{hi} ({b!r}) must be greater than {lo} ({a!r})")
        return self


class Dist(Spec):
    """A distribution: ``uniform`` on [low, high], ``normal`` (mean, sd) clipped to [low, high], or
    ``choice`` of ``values`` with ``weights``."""

    kind: Literal["uniform", "normal", "choice"] = "uniform"
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = Field(None, ge=0)
    values: list[float] = Field(default_factory=list)
    weights: list[float] = Field(default_factory=list)

    def check_within(self, low: float, high: float, what: str) -> None:
        """Raise ValueError when the distribution can draw outside ``[low, high]`` (``what`` names the quantity)."""
        if self.kind == "choice":
            bad = [v for v in self.values if not low <= v <= high]
        elif self.kind == "uniform":
            bad = [v for v in (self.low, self.high) if v is not None and not low <= v <= high]
        else:
            lo = self.low if self.low is not None else -np.inf
            hi = self.high if self.high is not None else np.inf
            bad = [] if (lo >= low and hi <= high) else [lo if lo < low else hi]
        if bad:
            raise ValueError(f"{what} must lie in [{low:g}, {high:g}], but the distribution can give {bad[0]:g}; "
                             "set its bounds (low/high) inside that range")

    @model_validator(mode="after")
    def _complete(self) -> Dist:
        if self.kind == "uniform" and (self.low is None or self.high is None or self.high < self.low):
            raise ValueError("a uniform distribution needs low <= high")
        if self.kind == "normal" and (self.mean is None or self.sd is None):
            raise ValueError("a normal distribution needs mean and sd (and optionally low/high bounds)")
        if self.kind == "choice" and (not self.values or (self.weights and len(self.weights) != len(self.values))):
            raise ValueError("a choice needs values (and, optionally, one weight per value)")
        if any(w < 0 for w in self.weights) or (self.weights and sum(self.weights) <= 0):
            raise ValueError(f"weights must be >= 0 and not all 0, got {self.weights}")
        if self.kind == "normal" and self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError("a normal distribution's bounds need low <= high")
        return self

    def draw(self, rng: np.random.Generator) -> float:
        if self.kind == "uniform":
            return float(rng.uniform(self.low, self.high))
        if self.kind == "normal":
            lo = -np.inf if self.low is None else self.low
            hi = np.inf if self.high is None else self.high
            return float(np.clip(rng.normal(self.mean, self.sd), lo, hi))
        w = np.asarray(self.weights or [1.0] * len(self.values), dtype=float)
        return float(rng.choice(self.values, p=w / w.sum()))


def read_csv_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV table as ``(line, {column: text})``; the header must name ``columns``."""
    if not path.is_file():
        raise InputError(f"{path}: table not found")
    text = read_text(path, what="table", limit=MAX_SPEC_BYTES * 4)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}:1: missing column(s) {missing}; the header must name {list(columns)}")
        rows = [(i + 2, {k: (v or "").strip() for k, v in r.items() if isinstance(k, str) and k}) for i, r in enumerate(reader)]
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV table ({exc})") from None
    if not rows:
        raise InputError(f"{path}: the table has a header but no rows; add at least one")
    return rows


# ---- where a field is in the file ------------------------------------------------------------
def node_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its closest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            return line
        node = nxt
        line = node.start_mark.line + 1
    return line


def _models(model: type[BaseModel], seen: set[type] | None = None) -> Iterator[type[BaseModel]]:
    """``model`` and every model its fields can hold."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    stack = [f.annotation for f in model.model_fields.values()]
    while stack:
        t = stack.pop()
        if isinstance(t, type) and issubclass(t, BaseModel):
            yield from _models(t, seen)
        else:
            stack.extend(get_args(t))


def _hint(err: dict[str, Any], model: type[BaseModel]) -> str:
    """How to fix one pydantic error, in a few words."""
    typ, loc, value = err["type"], err["loc"], err.get("input")
    if typ == "extra_forbidden" and loc:
        name = str(loc[-1])
        known = sorted({f for m in _models(model) for f in m.model_fields})
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) or [f for f in known if f.startswith(name + "_")][:1]
        return f"unknown field; did you mean {close[0]!r}? (units are part of field names)" if close else "unknown field; remove it"
    if typ in ("float_parsing", "float_type", "int_parsing", "int_type") and isinstance(value, str):
        return "write a plain number; the unit is in the field name (_s seconds, _m metres, _veh_h vehicles per hour)"
    if typ == "finite_number":
        return "give a finite number"
    if typ in ("union_tag_invalid", "union_tag_not_found"):
        tags = str((err.get("ctx") or {}).get("expected_tags") or "").replace("'", "")
        field = ".".join(str(x) for x in loc)
        disc = str((err.get("ctx") or {}).get("discriminator") or "kind").strip("'")
        return f"set {field + '.' if field else ''}{disc} to one of: {tags}" if tags else f"set {disc}"
    if typ == "missing":
        return "add this field"
    return ""


def format_errors(exc: ValidationError, source: str, root: yaml.Node | None, model: type[BaseModel],
                  *, tags: tuple[str, ...] = ()) -> str:
    """Every error of ``exc`` as ``source:line: field 'a.b': problem; fix``, joined by ``; ``.

    ``tags`` are discriminator values pydantic puts into error locations (``od``, ``routes``), left out
    of the field path.
    """
    parts: list[str] = []
    errs = exc.errors()
    for err in errs:
        # a field that takes a mapping or a file path (``areas: Areas | Path``) reports both branches: keep the
        # mapping's errors, drop the path branch's, and leave pydantic's branch names out of the field path
        branch = [x for x in err["loc"] if isinstance(x, str) and _is_branch(x)]
        if branch and err["type"] in ("path_type", "is_instance_of") and len(errs) > 1:
            continue
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and (x in tags or _is_branch(x))))
        line = node_line(root, loc) if root is not None else None
        where = f"{source}:{line}" if line else source
        field = ".".join(str(x) for x in loc) or "(top level)"
        msg = err["msg"]
        if "input" in err and err["type"] not in ("missing", "extra_forbidden") and not isinstance(err["input"], dict | list):
            msg += f" (got {err['input']!r})"
        hint = _hint(err, model)
        part = f"{where}: field '{field}': {msg}" + (f"; {hint}" if hint else "")
        if part not in parts:
            parts.append(part)
    return "; ".join(parts)


def _is_branch(segment: str) -> bool:
    """A location segment pydantic adds for a union member (``Areas``, ``function-after[...]``, ``lax-or-strict[...]``)."""
    return "[" in segment or segment[:1].isupper() or segment.startswith(("function-", "json-or-python"))


# ---- reading ---------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (YAML would silently keep the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for k, _ in node.value:
        key = loader.construct_object(k, deep=True)
        if isinstance(key, list | dict):
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key]}); keep one", k.start_mark)
        seen[key] = k.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_mapping(path: str | Path, *, what: str, hint: str = "fields", error: type[InputError] = InputError
                 ) -> tuple[dict[str, Any], yaml.Node | None]:
    """A YAML (or JSON) file holding a mapping, and its node tree for line numbers.

    Errors name the file (and line): missing, too large, not UTF-8, not YAML, duplicate keys,
    nested too deeply, aliases that expand past the limit, not a mapping.
    """
    data, root = read_document(path, what=what, error=error)
    if not isinstance(data, dict):
        raise error(f"{path}: a {what} is a mapping of {hint}, got {type(data).__name__}")
    return data, root


def _count_nodes(data: Any, limit: int) -> int:
    """Values in ``data`` counted through every reference (aliases included), stopping past ``limit``."""
    n, stack = 0, [data]
    while stack and n <= limit:
        x = stack.pop()
        n += 1
        if isinstance(x, dict):
            stack.extend(x.values())
            n += len(x)
        elif isinstance(x, list):
            stack.extend(x)
    return n


def read_text(path: Path, *, what: str, limit: int, error: type[InputError] = InputError) -> str:
    """A file's text: at most ``limit`` bytes, UTF-8 (a byte-order mark allowed); errors name the file and line."""
    size = path.stat().st_size
    if size > limit:
        raise error(f"{path}: a {what} of {size / 2**20:.0f} MiB is too large; the limit is {limit // 2**20} MiB")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); "
                    "save the file as UTF-8") from None


def read_document(path: str | Path, *, what: str, error: type[InputError] = InputError) -> tuple[Any, yaml.Node | None]:
    """A YAML or JSON document of any shape (a mapping or a list), with the reader's guards and its node tree."""
    p = Path(path)
    if not p.is_file():
        raise missing_file(p, what)
    text = read_text(p, what=what, limit=MAX_SPEC_BYTES, error=error)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise error(f"{where}: not valid YAML or JSON ({getattr(exc, 'problem', exc)})") from None
    except RecursionError:
        raise error(f"{p}: nested too deeply to be a {what}") from None
    if _count_nodes(data, MAX_SPEC_NODES) > MAX_SPEC_NODES:
        raise error(f"{p}: holds more than {MAX_SPEC_NODES:,} values once its aliases are expanded")
    return data, root


def read_spec(path: str | Path, model: type[BaseModel], *, what: str, hint: str = "fields",
              context: dict[str, Any] | None = None, error: type[InputError] = InputError,
              tags: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any], yaml.Node | None]:
    """Read and validate one spec file: ``(model instance, raw mapping, YAML node tree)``.

    Every problem is reported at once, each as ``file:line: field 'a.b': problem; fix``.
    """
    data, root = read_mapping(path, what=what, hint=hint, error=error)
    return validate(data, model, source=str(path), root=root, context=context, error=error, tags=tags), data, root


def validate(data: Any, model: type[BaseModel], *, source: str, root: yaml.Node | None = None,
             context: dict[str, Any] | None = None, error: type[InputError] = InputError,
             tags: tuple[str, ...] = ()) -> Any:
    """``model`` validated from ``data``; errors as :func:`read_spec` gives them."""
    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise error(format_errors(exc, source, root, model, tags=tags)) from None
    except RecursionError:
        raise error(f"{source}: nested too deeply") from None


def read_study(path: str | Path, model: type[BaseModel], *, what: str, hint: str) -> Any:
    """Read a study file that names a traffic scenario in ``scenario``: validate it, make every relative
    path field relative to the file's folder and check that the scenario exists."""
    p = Path(path)
    data, root = read_mapping(p, what=what, hint=hint)
    return study_from_dict(data, model, source=str(p), base_dir=p.resolve().parent, root=root, source_file=p.resolve())


def study_from_dict(data: dict[str, Any], model: type[BaseModel], *, source: str, base_dir: Path,
                    root: yaml.Node | None = None, source_file: Path | None = None) -> Any:
    """A study spec from a mapping: validated, relative path fields made relative to ``base_dir``, the
    traffic scenario checked to exist."""
    spec = validate(data, model, source=source, root=root)
    spec = spec.model_copy(update={k: Path(base_dir) / v for k, v in spec if isinstance(v, Path) and not v.is_absolute()})
    if not spec.scenario.is_file():
        line = node_line(root, ("scenario",)) if root is not None else None
        raise InputError(f"{source}{':' + str(line) if line else ''}: field 'scenario': traffic scenario not found: "
                         f"{spec.scenario}; paths are relative to the study file")
    return spec.model_copy(update={"source_file": source_file})
