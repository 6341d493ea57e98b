"""The toolkit's public API, as one list: what the docstring test checks and the API reference documents."""

from __future__ import annotations

import importlib
import inspect
import pkgutil


def public_modules() -> list[str]:
    """Names of the public modules: ``mobility`` and its modules and packages without a leading underscore.

    Returns
    -------
    list of str
        Dotted module names, ``mobility`` first, then the others in alphabetical order.
    """
    import mobility

    return ["mobility"] + sorted(f"mobility.{m.name}" for m in pkgutil.iter_modules(mobility.__path__)
                                 if not m.name.startswith("_"))


def public_objects(module: str) -> list[tuple[str, object]]:
    """The functions and classes a public module names in its ``__all__``.

    Parameters
    ----------
    module : str
        A dotted module name from :func:`public_modules`.

    Returns
    -------
    list of (str, object)
        ``(name, object)`` in the order of ``__all__``; constants and submodules are left out.
    """
    mod = importlib.import_module(module)
    out = []
    for attr in getattr(mod, "__all__", []):
        obj = getattr(mod, attr, None)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            out.append((attr, obj))
    return out


def public_api() -> dict[str, object]:
    """Every public function and class once, by the name of the module that defines it.

    Returns
    -------
    dict
        ``"module.qualname"`` to the object, in the order :func:`public_modules` first names them.
    """
    out: dict[str, object] = {}
    for module in public_modules():
        for _, obj in public_objects(module):
            out.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return out
