"""TNTP test networks (the Transportation Networks for Research format).

``*_net.tntp`` holds links (init/term node, capacity, length, free-flow time, BPR ``b`` and power,
speed, toll, type), ``*_trips.tntp`` the OD matrix, ``*_node.tntp`` coordinates and ``*_flow.tntp``
best-known equilibrium flows. Conventions honoured here:

- nodes numbered below ``<FIRST THRU NODE>`` are zone centroids that paths may not pass through
  (``RoadNetwork.zone_count``);
- duplicate links between the same two nodes are kept, each with its own id (the 1-based link number);
- the generalized-cost weights come from the ``## Generalized Cost Weights`` section of the README.md
  beside the network file (Chicago-Sketch: toll 0.02 min/cent, distance 0.04 min/mile) unless given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import NetworkError, missing_file
from .network import RoadNetwork, build_network

__all__ = ["ODMatrix", "network_from_tntp", "od_from_tntp", "read_tntp_flows", "tntp_cost_weights", "write_tntp_trips"]

_META = re.compile(r"^\s*<([^>]+)>\s*(.*?)\s*$")


def _split_metadata(path: Path) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Metadata tags and the numbered data lines (comments and blank lines dropped)."""
    if not path.is_file():
        raise missing_file(path, "TNTP file")
    meta: dict[str, str] = {}
    data: list[tuple[int, str]] = []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            if not in_data:
                m = _META.match(line)
                if m:
                    key = m.group(1).strip().upper()
                    if key == "END OF METADATA":
                        in_data = True
                    else:
                        meta[key] = m.group(2).strip()
                    continue
                if line.strip():
                    in_data = True  # some files omit the END OF METADATA tag
                else:
                    continue
            s = line.strip()
            if not s or s.startswith("~"):
                continue
            data.append((lineno, s))
    return meta, data


#: Largest counts a TNTP header may declare (the arrays are allocated from them; the OD matrix is dense).
TNTP_LIMITS = {"NUMBER OF NODES": 10_000_000, "NUMBER OF LINKS": 50_000_000, "NUMBER OF ZONES": 16_000,
               "FIRST THRU NODE": 10_000_000}


def _meta_int(meta: dict[str, str], key: str, path: Path) -> int:
    try:
        text = meta[key].split()[0]
        value = int(text)
    except KeyError:
        raise NetworkError(f"{path}: metadata tag <{key}> is missing; add it to the file header") from None
    except (ValueError, IndexError):
        raise NetworkError(f"{path}: metadata tag <{key}> is not a whole number: {meta[key]!r}") from None
    limit = TNTP_LIMITS.get(key, 10_000_000)
    if not 0 <= value <= limit:
        raise NetworkError(f"{path}: metadata tag <{key}> is {value}; it must be from 0 to {limit:,}"
                           + (" (the OD matrix is held dense)" if key == "NUMBER OF ZONES" else ""))
    return value


def tntp_cost_weights(folder: str | Path) -> tuple[float, float]:
    """Toll and distance weights from the ``Generalized Cost Weights`` section of ``folder/README.md``.

    Parameters
    ----------
    folder : path
        The TNTP network's folder.

    Returns
    -------
    tuple of float
        ``(toll_weight, distance_weight)``; a missing README, section or value reads as 0.
    """
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return 0.0, 0.0
    text = readme.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"^#+\s*Generalized Cost Weights\s*$(.*?)(?=^#|\Z)", text, flags=re.M | re.S | re.I)
    if not m:
        return 0.0, 0.0
    section = m.group(1)

    def weight(label: str) -> float:
        w = re.search(rf"^\s*{label}\s*:\s*([-+0-9.eE]+)", section, flags=re.M | re.I)
        return float(w.group(1)) if w else 0.0

    return weight("Toll"), weight("Distance")


def network_from_tntp(
    path: str | Path,
    *,
    node_file: str | Path | None = None,
    toll_weight: float | None = None,
    distance_weight: float | None = None,
    first_thru_node: int | None = None,
) -> RoadNetwork:
    """Read a TNTP ``*_net.tntp`` network.

    Parameters
    ----------
    path : path
        The ``*_net.tntp`` file.
    node_file : path, optional
        Node coordinates; by default the ``*_node.tntp`` beside ``path`` when there is one.
    toll_weight, distance_weight : float, optional
        Generalized-cost weights (time units per toll unit / per length unit); by default read from the
        README.md beside ``path``.
    first_thru_node : int, optional
        Overrides the header's ``<FIRST THRU NODE>``: nodes numbered below it are zones that paths may
        not pass through.

    Returns
    -------
    RoadNetwork
        Edge ids are the 1-based link numbers in file order; node ids the TNTP node numbers. Units are
        the file's: ``free_flow_time`` in the network's time unit (usually minutes), ``capacity`` in
        veh per assignment period. ``extra`` holds ``b``, ``power``, ``toll``, ``speed_limit`` and
        ``link_type``.
    """
    path = Path(path)
    meta, data = _split_metadata(path)
    n_nodes = _meta_int(meta, "NUMBER OF NODES", path)
    n_links = _meta_int(meta, "NUMBER OF LINKS", path)
    n_zones = _meta_int(meta, "NUMBER OF ZONES", path)
    if first_thru_node is not None:
        first_thru = int(first_thru_node)
    else:
        first_thru = _meta_int(meta, "FIRST THRU NODE", path) if "FIRST THRU NODE" in meta else 1
    rows = np.empty((len(data), 10), dtype=np.float64)
    for k, (lineno, s) in enumerate(data):
        parts = s.rstrip(";").split()
        if len(parts) < 10:
            raise NetworkError(
                f"{path}:{lineno}: link line has {len(parts)} fields, expected 10 "
                "(init term capacity length fftt b power speed toll type)"
            )
        try:
            rows[k] = [float(x) for x in parts[:10]]
        except ValueError:
            raise NetworkError(f"{path}:{lineno}: non-numeric field in link line {s!r}") from None
    if rows.shape[0] != n_links:
        raise NetworkError(f"{path}: header says <NUMBER OF LINKS> {n_links} but the file has {rows.shape[0]} links")
    for col, name, rule in ((2, "capacity", "finite and >= 0"), (3, "length", "finite and >= 0"),
                            (4, "free flow time", "finite and >= 0"), (5, "b", "finite and >= 0"),
                            (6, "power", "finite and >= 0"), (8, "toll", "finite")):
        v = rows[:, col]
        bad = ~np.isfinite(v) | ((v < 0) if rule.endswith(">= 0") else False)
        if bad.any():
            k = int(np.argmax(bad))
            raise NetworkError(f"{path}:{data[k][0]}: link {name} is {v[k]:g}; it must be {rule}")
    congestible = (rows[:, 5] > 0) & (rows[:, 2] <= 0)
    if congestible.any():
        k = int(np.argmax(congestible))
        raise NetworkError(f"{path}:{data[k][0]}: link capacity is {rows[k, 2]:g} with b = {rows[k, 5]:g}; "
                           "a congestible link needs capacity > 0")
    ends = rows[:, :2].astype(np.int64)
    if ends.size and (ends.min() < 1 or ends.max() > n_nodes):
        bad = int(np.argmax((ends < 1).any(axis=1) | (ends > n_nodes).any(axis=1)))
        raise NetworkError(f"{path}:{data[bad][0]}: node number outside 1..{n_nodes} (<NUMBER OF NODES>)")
    if toll_weight is None or distance_weight is None:
        tw, dw = tntp_cost_weights(path.parent)
        toll_weight = tw if toll_weight is None else toll_weight
        distance_weight = dw if distance_weight is None else distance_weight
    x = y = None
    nf = Path(node_file) if node_file is not None else _sibling(path, "_node.tntp")
    if nf is not None:
        x, y = _read_nodes(nf, n_nodes)
    return build_network(
        name=path.name.replace("_net.tntp", "").replace(".tntp", ""),
        source=str(path),
        node_ids=[str(i) for i in range(1, n_nodes + 1)],
        tail=ends[:, 0] - 1,
        head=ends[:, 1] - 1,
        edge_ids=[str(i) for i in range(1, n_links + 1)],
        attributes={
            "capacity": rows[:, 2],
            "length": rows[:, 3],
            "free_flow_time": rows[:, 4],
            "free_speed": np.divide(rows[:, 3], rows[:, 4], out=np.full(n_links, np.inf), where=rows[:, 4] > 0),
            "lanes": np.ones(n_links),
        },
        units={"length": "file", "free_speed": "length/time", "lanes": "1", "capacity": "veh/period",
               "free_flow_time": "file (usually min)"},
        node_x=x,
        node_y=y,
        zone_count=min(max(first_thru - 1, 0), n_zones),
        extra={"b": rows[:, 5], "power": rows[:, 6], "speed_limit": rows[:, 7], "toll": rows[:, 8],
               "link_type": rows[:, 9].astype(np.int32)},
        toll_weight=toll_weight,
        distance_weight=distance_weight,
    )


def _sibling(path: Path, suffix: str) -> Path | None:
    hits = sorted(p for p in path.parent.glob(f"*{suffix}") if p.is_file())
    return hits[0] if len(hits) == 1 else None


def _read_nodes(path: Path, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.full(n_nodes, np.nan)
    y = np.full(n_nodes, np.nan)
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.replace(";", " ").split()
            if len(parts) < 3 or not parts[0].lstrip("-").isdigit():
                continue  # header
            i = int(parts[0])
            if not 1 <= i <= n_nodes:
                raise NetworkError(f"{path}:{lineno}: node {i} outside 1..{n_nodes}")
            try:
                xi, yi = float(parts[1]), float(parts[2])
            except ValueError:
                raise NetworkError(f"{path}:{lineno}: node {i}: coordinates {parts[1]!r}, {parts[2]!r} are not numbers; "
                                   "give 'node x y ;'") from None
            if not (np.isfinite(xi) and np.isfinite(yi)):
                raise NetworkError(f"{path}:{lineno}: node {i}: coordinates must be finite, got {parts[1]}, {parts[2]}")
            x[i - 1], y[i - 1] = xi, yi
    return x, y


@dataclass(frozen=True, eq=False)
class ODMatrix:
    """A zone-to-zone demand matrix.

    Attributes
    ----------
    zone_ids : array of str, shape (Z,)
        Zone ids (for TNTP, the zone node numbers ``1..Z``).
    flows : array of float64, shape (Z, Z)
        Demand from row zone to column zone, in the source's units (TNTP: veh per period).
    """

    zone_ids: np.ndarray
    flows: np.ndarray

    @property
    def total(self) -> float:
        """Sum of all OD flows."""
        return float(self.flows.sum())

    def __repr__(self) -> str:
        return f"ODMatrix(zones={len(self.zone_ids)}, total={self.total:.1f})"


_PAIR = re.compile(r"(\d+)\s*:\s*([-+0-9.eE]+)")


def od_from_tntp(path: str | Path) -> ODMatrix:
    """Read a TNTP ``*_trips.tntp`` OD matrix; the total is checked against ``<TOTAL OD FLOW>``.

    Parameters
    ----------
    path : path

    Returns
    -------
    ODMatrix
        Flows in veh/h between the file's zones.
    """
    path = Path(path)
    meta, data = _split_metadata(path)
    n_zones = _meta_int(meta, "NUMBER OF ZONES", path)
    flows = np.zeros((n_zones, n_zones), dtype=np.float64)
    origin = -1
    for lineno, s in data:
        if s.lower().startswith("origin"):
            try:
                origin = int(s.split()[1])
            except (IndexError, ValueError):
                raise NetworkError(f"{path}:{lineno}: malformed Origin line {s!r}") from None
            if not 1 <= origin <= n_zones:
                raise NetworkError(f"{path}:{lineno}: origin {origin} outside 1..{n_zones} (<NUMBER OF ZONES>)")
            continue
        if origin < 0:
            raise NetworkError(f"{path}:{lineno}: demand before the first 'Origin' line")
        for dest_s, value_s in _PAIR.findall(s):
            dest = int(dest_s)
            if not 1 <= dest <= n_zones:
                raise NetworkError(f"{path}:{lineno}: destination {dest} outside 1..{n_zones}")
            value = float(value_s)
            if value < 0:
                raise NetworkError(f"{path}:{lineno}: negative demand {value} from {origin} to {dest}")
            flows[origin - 1, dest - 1] += value
    if "TOTAL OD FLOW" in meta:
        stated = float(meta["TOTAL OD FLOW"].split()[0])
        if not np.isclose(flows.sum(), stated, rtol=1e-6, atol=1e-3):
            raise NetworkError(
                f"{path}: matrix sums to {flows.sum():.4f} but <TOTAL OD FLOW> says {stated:.4f}; the file is truncated or edited"
            )
    return ODMatrix(zone_ids=np.asarray([str(i) for i in range(1, n_zones + 1)], dtype=object), flows=flows)


def read_tntp_flows(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a ``*_flow.tntp`` solution file.

    Parameters
    ----------
    path : path

    Returns
    -------
    from_node, to_node : array of int64
        Link end node numbers, in file order.
    volume, cost : array of float64
        Equilibrium volume and generalized cost per link.
    """
    path = Path(path)
    if not path.is_file():
        raise missing_file(path, "TNTP flow file")
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.replace(";", " ").split()
            if len(parts) >= 4 and parts[0].isdigit():
                rows.append((int(parts[0]), int(parts[1]), float(parts[2]), float(parts[3])))
    if not rows:
        raise NetworkError(f"{path}: no flow rows found (expected 'from to volume cost' lines)")
    a = np.array(rows, dtype=np.float64)
    return a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3]


def write_tntp_trips(od: ODMatrix, path: str | Path) -> Path:
    """Write ``od`` as a TNTP ``*_trips.tntp`` file that :func:`od_from_tntp` reads back (atomically).

    Parameters
    ----------
    od : ODMatrix
    path : path

    Returns
    -------
    Path
        The file written.
    """
    from ._io import write_text_atomic

    flows = np.asarray(od.flows, dtype=float)
    lines = [f"<NUMBER OF ZONES> {flows.shape[0]}", f"<TOTAL OD FLOW> {flows.sum():.6f}", "<END OF METADATA>", ""]
    for i, z in enumerate(od.zone_ids):
        lines.append(f"Origin {z}")
        row = [f"{od.zone_ids[j]} : {flows[i, j]:.6f};" for j in range(flows.shape[1]) if flows[i, j] > 0]
        for k in range(0, len(row), 5):
            lines.append("    " + "  ".join(row[k:k + 5]))
        lines.append("")
    return write_text_atomic(path, "\n".join(lines) + "\n")
