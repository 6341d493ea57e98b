"""Bus lines in SUMO: bus stops, bus types and trips with their timetabled stops, and the stop output read back.

Each trip is a SUMO ``vehicle`` of class ``bus`` with ``line`` set, whose ``stop`` elements name the bus stop,
the dwell (``duration``), the scheduled arrival (``arrival``; SUMO's stop output then gives the arrival
delay) and, for lines that hold to the timetable, the scheduled departure (``until``).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr as q

import numpy as np

from .spec import BusTrip, ChargerSpec

__all__ = ["bus_type_id", "read_stop_output", "transit_additional"]


def bus_type_id(line: str) -> str:
    """SUMO vehicle type id of a line's buses.

    Parameters
    ----------
    line : str
        Line id.

    Returns
    -------
    str
    """
    return f"mobility_bus_{line}"


def transit_additional(trips: list[BusTrip], chargers: dict[str, ChargerSpec] | None = None) -> str:
    """SUMO additional XML with the bus stops, their chargers, one bus type per line and every trip.

    Parameters
    ----------
    trips : list of BusTrip
        From :func:`~mobility.transit.spec.bus_trips`.
    chargers : dict of str to ChargerSpec, optional
        Opportunity chargers by stop id (:func:`~mobility.transit.spec.bus_chargers`).

    Returns
    -------
    str
        The file's text.
    """
    rows = ["<additional>"]
    seen: set[str] = set()
    stop_of = {s.id: s for t in trips for s in t.stops}
    for t in trips:
        for s in t.stops:
            if s.id in seen:
                continue
            seen.add(s.id)
            rows.append(f'    <busStop id={q(s.id)} lane={q(f"{s.edge}_{s.lane}")} startPos="{s.start_m:.2f}" '
                        f'endPos="{s.end_m:.2f}" friendlyPos="true"/>')
    for c in (chargers or {}).values():
        s = stop_of[c.stop]
        rows.append(f'    <chargingStation id={q("cs_" + s.id)} lane={q(f"{s.edge}_{s.lane}")} startPos="{s.start_m:.2f}" '
                    f'endPos="{s.end_m:.2f}" power="{c.power_kw * 1000:g}" efficiency="{c.efficiency:g}" friendlyPos="true"/>')
    typed: set[str] = set()
    for t in trips:
        if t.line in typed:
            continue
        typed.add(t.line)
        b = t.bus
        head = (f'    <vType id={q(bus_type_id(t.line))} vClass="bus" length="{b.length_m:g}" minGap="2.5" '
                f'maxSpeed="{b.max_speed_m_s:g}" accel="{b.accel_m_s2:g}" decel="{b.decel_m_s2:g}" '
                f'sigma="{b.sigma:g}" speedFactor="1" speedDev="0.05" guiShape="bus" color="0,0.6,1"')
        if not b.electric:
            rows.append(head + "/>")
            continue
        rows.append(head + f' emissionClass="Energy/unknown" mass="{b.mass_kg:g}">')
        params = {"has.battery.device": "true", "device.battery.capacity": f"{b.battery_kwh * 1000:g}", **b.energy_model}
        rows += [f'        <param key={q(k)} value={q(v)}/>' for k, v in params.items()]
        rows.append("    </vType>")
    for t in trips:
        rows.append(f'    <vehicle id={q(t.id)} type={q(bus_type_id(t.line))} depart="{t.depart_s:.1f}" line={q(t.line)} '
                    'departLane="best" departSpeed="0" departPos="base">')
        rows.append(f'        <route edges={q(" ".join(t.route))}/>')
        for s, arr, dw in zip(t.stops, t.arrival_s, t.dwell_s, strict=True):
            until = f' until="{arr + dw:.1f}"' if t.hold else ""
            rows.append(f'        <stop busStop={q(s.id)} duration="{dw:.1f}" arrival="{arr:.1f}"{until}/>')
        if np.isfinite(t.passengers):
            rows.append(f'        <param key="passengers" value="{t.passengers:g}"/>')
        if t.bus.electric:
            rows.append(f'        <param key="device.battery.chargeLevel" value="{t.soc0 * t.bus.battery_kwh * 1000:.1f}"/>')
        rows.append("    </vehicle>")
    rows.append("</additional>")
    return "\n".join(rows) + "\n"


def read_stop_output(path: str | Path) -> dict[str, list[tuple[str, float, float]]]:
    """SUMO's stop output, per vehicle: ``(bus stop, started s, ended s)`` in the order served (``ended`` NaN for
    a stop still going on at the end).

    Parameters
    ----------
    path : str or Path
        The ``--stop-output`` file.

    Returns
    -------
    dict of str to list of tuple
    """
    from ..results import _iter

    out: dict[str, list[tuple[str, float, float]]] = {}
    p = Path(path)
    if not p.is_file():
        return out
    for el in _iter(p, "stopinfo"):
        stop = el.get("busStop")
        if stop:
            out.setdefault(str(el.get("id")), []).append(
                (stop, float(el.get("started", "nan")), float(el.get("ended", "nan"))))
        el.clear()
    return out
