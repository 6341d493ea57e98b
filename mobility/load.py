"""Reading a road network whatever its format: the one place that knows every reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._errors import InputError
from .network import RoadNetwork, network_from_sumo
from .osm import network_from_osm
from .tntp import network_from_tntp

__all__ = ["load_network"]


def load_network(path: str | Path, **kwargs: Any) -> RoadNetwork:
    """Read a network, choosing the reader from the file name.

    ``*.net.xml``/``*.net.xml.gz`` -> :func:`network_from_sumo`; ``*.osm``/``*.osm.xml`` (gzipped or not) ->
    :func:`~mobility.osm.network_from_osm` (converted once, then reused from the cache); ``*.tntp`` ->
    :func:`~mobility.tntp.network_from_tntp`.

    Parameters
    ----------
    path : path
    **kwargs
        Passed to the reader.

    Returns
    -------
    RoadNetwork
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith((".net.xml", ".net.xml.gz")):
        return network_from_sumo(p, **kwargs)
    if name.endswith((".osm", ".osm.xml", ".osm.gz", ".osm.xml.gz", ".osm.pbf", ".pbf")):
        return network_from_osm(p, **kwargs)
    if name.endswith(".tntp"):
        return network_from_tntp(p, **kwargs)
    raise InputError(
        f"{p}: unknown network format; expected a SUMO .net.xml, an OSM .osm/.osm.xml or a TNTP *_net.tntp file"
    )
