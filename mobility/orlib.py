"""Readers for OR-Library location instances (J.E. Beasley): p-median and capacitated warehouse location.

- :func:`read_pmed`: ``n m p`` then ``m`` undirected edges ``i j cost`` (1-based); the cost matrix is the
  all-pairs shortest-path matrix of that graph (computed by :func:`numba_kernels.aon.shortest_costs`),
  every node both a demand point (weight 1) and a candidate site. Where an edge is listed twice, the
  last listing wins (OR-Library's convention).
- :func:`read_cap`: ``m n``; ``m`` lines ``capacity fixed_cost``; per customer its demand then ``m`` costs
  of serving all of it from each warehouse.
- :func:`read_optima`: ``pmedopt.txt`` / ``capopt.txt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._errors import InputError

__all__ = ["read_cap", "read_optima", "read_pmed"]


#: Largest instance the readers accept (nodes / customers x sites; the matrices are dense).
MAX_ORLIB_NODES = 20_000


def _numbers(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"{path}: OR-Library file not found")
    try:
        return path.read_text(encoding="ascii").split()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not an OR-Library text file (byte {exc.object[exc.start]:#04x} at offset "
                         f"{exc.start}); the files are plain ASCII numbers") from None


def _count(value: int, what: str, path: Path) -> int:
    if not 1 <= value <= MAX_ORLIB_NODES:
        raise InputError(f"{path}: {what} is {value}; it must be from 1 to {MAX_ORLIB_NODES:,}")
    return value


def read_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """``(cost, p)``: the ``n x n`` shortest-path distance matrix and the number of medians.

    Parameters
    ----------
    path : str or Path
        An OR-Library ``pmedN.txt`` file.

    Returns
    -------
    tuple
        ``(cost array (n, n), p)``.
    """
    from numba_kernels.aon import shortest_costs

    p_ = Path(path)
    tok = _numbers(p_)
    try:
        n, m, p = _count(int(tok[0]), "n (nodes)", p_), int(tok[1]), _count(int(tok[2]), "p (medians)", p_)
        if not 1 <= m <= n * n:
            raise InputError(f"{p_}: m (edges) is {m}; it must be from 1 to n^2 = {n * n}")
        vals = np.array(tok[3:3 + 3 * m], dtype=float).reshape(m, 3)
    except (ValueError, IndexError):
        raise InputError(f"{p_}: expected 'n m p' and then m lines 'i j cost'") from None
    if not np.isfinite(vals).all() or (vals[:, 2] < 0).any():
        raise InputError(f"{p_}: edge costs must be finite and >= 0")
    if p > n:
        raise InputError(f"{p_}: p = {p} medians is more than the {n} nodes")
    edges: dict[tuple[int, int], float] = {}
    for i, j, c in vals:
        a, b = int(i) - 1, int(j) - 1
        if not (0 <= a < n and 0 <= b < n):
            raise InputError(f"{p_}: edge {int(i)}-{int(j)} names a node outside 1..{n}")
        edges[(min(a, b), max(a, b))] = c  # the last listing wins
    tail = np.array([a for a, b in edges] + [b for a, b in edges], dtype=np.int32)
    head = np.array([b for a, b in edges] + [a for a, b in edges], dtype=np.int32)
    cost = np.array(list(edges.values()) * 2, dtype=np.float64)
    order = np.argsort(tail, kind="stable")
    tail, head, cost = tail[order], head[order], cost[order]
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.add.at(indptr, tail + 1, 1)
    indptr = np.cumsum(indptr).astype(np.int32)
    out = np.full((n, n), np.inf)
    shortest_costs(indptr, head, cost, 0, np.arange(n, dtype=np.int32), out)
    return out, p


def read_cap(path: str | Path) -> dict[str, np.ndarray]:
    """``capacity``, ``fixed_cost`` (warehouses), ``demand`` (customers), ``cost`` (warehouses x customers).

    Parameters
    ----------
    path : str or Path
        An OR-Library ``capNNN.txt`` file.

    Returns
    -------
    dict of str to array
    """
    p_ = Path(path)
    tok = _numbers(p_)
    try:
        m, n = _count(int(tok[0]), "m (sites)", p_), _count(int(tok[1]), "n (customers)", p_)
        k = 2
        cap_fix = np.array(tok[k:k + 2 * m], dtype=float).reshape(m, 2)
        k += 2 * m
        demand, cost = np.zeros(n), np.zeros((m, n))
        for j in range(n):
            demand[j] = float(tok[k])
            cost[:, j] = np.array(tok[k + 1:k + 1 + m], dtype=float)
            k += 1 + m
    except (ValueError, IndexError):
        raise InputError(f"{p_}: expected 'm n', m lines 'capacity fixed_cost', then per customer its demand and m costs") from None
    if not (np.isfinite(cap_fix).all() and np.isfinite(demand).all() and np.isfinite(cost).all()):
        raise InputError(f"{p_}: capacities, costs and demands must be finite numbers")
    if (cap_fix < 0).any() or (demand < 0).any() or (cost < 0).any():
        raise InputError(f"{p_}: capacities, costs and demands must be >= 0")
    return {"capacity": cap_fix[:, 0], "fixed_cost": cap_fix[:, 1], "demand": demand, "cost": cost}


def read_optima(path: str | Path) -> dict[str, float]:
    """Instance name -> proven optimal value.

    Parameters
    ----------
    path : str or Path
        OR-Library's table of optimal values (``pmedopt.txt`` or ``capopt.txt``).

    Returns
    -------
    dict of str to float
    """
    p_ = Path(path)
    if not p_.is_file():
        raise InputError(f"{p_}: OR-Library file not found")
    out: dict[str, float] = {}
    for line in p_.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue  # the header line
    return out
