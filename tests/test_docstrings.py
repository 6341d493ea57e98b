"""Every public function of the toolkit documents its parameters and what it returns (numpydoc sections).

Every parameter (but those with a leading underscore) is named in ``Parameters``, and nothing else is.

Public means named in the ``__all__`` of ``mobility`` or of one of its public modules and packages. A function
with parameters needs a ``Parameters`` section; one that returns something needs ``Returns`` (or ``Yields``); a
class needs a docstring. ``tests/docstring_debt.txt`` lists the functions written before this was checked that
still lack their sections: the list may only shrink (a function documented since must leave it), and nothing
new may join it.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mobility._api import public_api

DEBT = Path(__file__).with_name("docstring_debt.txt")


def _named(doc: str) -> set[str] | None:
    """The parameter names a numpydoc ``Parameters`` section lists (``a, b : float`` names two), or None."""
    m = re.search(r"^Parameters\n-+\n(.*?)(?=^[A-Z][A-Za-z ]+\n-{3,}\n|\Z)", doc, flags=re.S | re.M)
    if m is None:
        return None
    names = set()
    for line in m.group(1).splitlines():
        if line and not line[0].isspace():
            names |= {part.strip().lstrip("*") for part in line.split(" : ")[0].rstrip(":").split(",")}
    return names - {""}


def _lacks(obj: object) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        return [] if doc else ["docstring"]
    if not doc:
        return ["docstring"]
    sig = inspect.signature(obj)
    out = []
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if params and "Parameters\n----------" not in doc:
        out.append("Parameters")
    elif params:
        named = _named(doc) or set()
        public = [p.name for p in params if not p.name.startswith("_")]
        out += [f"parameter {n!r} undocumented" for n in public if n not in named]
        everything = {p.name for p in sig.parameters.values()}
        out += [f"documents {n!r}, which it does not take" for n in sorted(named - everything)]
    if sig.return_annotation not in (None, "None", inspect.Signature.empty) and not (
            "Returns\n-------" in doc or "Yields\n------" in doc):
        out.append("Returns")
    return out


def test_public_functions_document_parameters_and_returns() -> None:
    debt = {line.split()[0] for line in DEBT.read_text().splitlines() if line.strip() and not line.startswith("#")}
    lacking = {name: lacks for name, obj in public_api().items() if (lacks := _lacks(obj))}
    new = sorted(set(lacking) - debt)
    paid = sorted(debt - set(lacking))
    assert not new, "public functions without numpydoc Parameters/Returns:\n" + "\n".join(
        f"  {n}: {', '.join(lacking[n])}" for n in new)
    assert not paid, ("documented now, so take them off tests/docstring_debt.txt:\n" + "\n".join(f"  {n}" for n in paid))
