"""A generated corpus of hostile and malformed inputs, and the memory-capped runner that feeds them to the CLI.

Each case is files written into a fresh folder and a command line; run through ``mobility`` in a process
whose address space is capped, it must exit with code 2 and one error line naming the file, with no
traceback and no file left behind. ``python -m tests.hostile OUT.json`` runs every case and writes the
outcomes (the test in ``test_hostile.py`` does that in a capped subprocess).
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ROOT / "networks"
#: Values no number field may take.
BAD_NUMBERS: tuple[Any, ...] = (math.nan, math.inf, -math.inf, "ten", [1, 2])
#: Values no text field may take.
BAD_TEXT: tuple[Any, ...] = ({"path": 42}, [1, 2])


@dataclass
class Case:
    kind: str
    name: str
    files: dict[str, bytes]
    argv: list[str]
    names: str = ""  # what the error must name (default: the first file)
    extra: dict[str, Any] = field(default_factory=dict)


def _load(rel: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / rel).read_text())


def _abs(data: dict[str, Any]) -> dict[str, Any]:
    d = copy.deepcopy(data)
    if isinstance(d.get("network"), str) and "networks/" in d["network"]:
        d["network"] = str(NETWORKS / Path(d["network"]).name)
    return d


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list) and node and all(isinstance(x, dict | list) for x in node):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path, node


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(data)
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return d


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()


def _field_cases(kind: str, base: dict[str, Any], fname: str, support: dict[str, bytes], skip: tuple[str, ...] = ()
                 ) -> Iterator[Case]:
    for path, value in _leaves(base):
        dotted = ".".join(map(str, path))
        if any(dotted.startswith(s) for s in skip):
            continue
        if any(isinstance(p, int) and p >= 2 for p in path):
            continue  # the third and later items of a list share the first two's schema and checks
        if isinstance(value, bool):
            bad: tuple[Any, ...] = ("maybe", [1])
        elif isinstance(value, int | float):
            bad = BAD_NUMBERS
        elif isinstance(value, str):
            bad = BAD_TEXT
        elif isinstance(value, list):
            bad = ({"a": 1}, math.nan)
        else:
            continue
        for v in bad:
            yield Case(kind, f"{dotted}={v!r}", {fname: _dump(_set(base, path, v)), **support},
                       ["scenario", "validate", fname])


def _structural(kind: str, base: dict[str, Any], fname: str, support: dict[str, bytes]) -> Iterator[Case]:
    text = _dump(base)
    first = next(iter(base))
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n".encode() for i in range(9))
    for name, body in {
        "non-utf8": text + "description: caf\xe9\n".encode("latin-1"),
        "empty": b"",
        "a list": b"- 1\n- 2\n",
        "a number": b"42\n",
        "broken yaml": text + b"  : - [\n",
        "duplicate key": text + f"{first}: again\n".encode(),
        "unknown field": text + b"colour_s: 3\n",
        "deep nesting": b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "alias bomb": bomb,
        "tab indent": text.replace(b"\n  ", b"\n\t", 1),
        "binary": bytes(range(256)) * 4,
    }.items():
        yield Case(kind, name, {fname: body, **support}, ["scenario", "validate", fname])
    for k in list(base)[:12]:  # every required field missing in turn (optional ones may go)
        d = {kk: vv for kk, vv in base.items() if kk != k}
        yield Case(kind, f"without {k}", {fname: _dump(d), **support}, ["scenario", "validate", fname],
                   extra={"may_pass": True})


def cases() -> list[Case]:
    out: list[Case] = []
    # a traffic scenario
    sc = _abs(_load("scenarios/signal_control/grid3x3.yaml"))
    out += _field_cases("scenario", sc, "s.yaml", {})
    out += _structural("scenario", sc, "s.yaml", {})
    for name, over in {
        "flow inf": {"demand": {"kind": "od", "pairs": [{"origin": "left0A0", "destination": "C2right2", "flow_veh_h": math.inf}]}},
        "end_s 1e300": {"end_s": 1e300},
        "interval 1e-9": {"outputs": {"interval_s": 1e-9}},
        "network dict": {"network": {"path": 42}},
        "additional passwd": {"additional_files": ["/etc/passwd"]},
        "extra args write outside": {"sumo": {"extra_args": ["--fcd-output", "/tmp/../etc/outside.xml"]}},
        "seed negative": {"seed": -5},
        "seed huge": {"seed": 2**40},
        "step 0": {"step_length_s": 0},
        "unknown edge": {"demand": {"kind": "od", "pairs": [{"origin": "nowhere", "destination": "C2right2", "flow_veh_h": 10}]}},
    }.items():
        out.append(Case("scenario", name, {"s.yaml": _dump({**sc, **over})}, ["scenario", "validate", "s.yaml"]))
    # studies that name a traffic scenario
    traffic = _abs(_load("scenarios/parking/district_traffic.yaml"))
    support = {"traffic.yaml": _dump(traffic)}
    park = {**_load("scenarios/parking/district.yaml"), "scenario": "traffic.yaml"}
    out += _field_cases("parking", park, "p.yaml", support, skip=("scenario", "seekers.centre"))  # [x, y] is a centre
    out += _structural("parking", park, "p.yaml", support)
    for name, over in {
        "negative dwell": {"seekers": {**park["seekers"], "dwell_s": {"kind": "uniform", "low": -100, "high": -10}}},
        "unknown centre": {"seekers": {**park["seekers"], "centre": "NOWHERE"}},
        "huge spaces": {"areas": {"on_street": {"spaces_per_100m": 1.8e14}}},
        "unknown lot edge": {"areas": {"lots": [{"id": "x", "edge": "NOPE", "capacity": 4}]}},
        "missing scenario file": {"scenario": "nowhere.yaml"},
    }.items():
        out.append(Case("parking", name, {"p.yaml": _dump({**park, **over}), **support}, ["scenario", "validate", "p.yaml"]))
    # transit and taxi studies: the errors their issue names, and a few more
    bus_support = {"traffic.yaml": _dump(_abs(_load("scenarios/signal_control/corridor5.yaml")))}
    bus = {**_load("scenarios/transit/corridor5_bus.yaml"), "scenario": "traffic.yaml"}
    line0 = bus["lines"][0]
    for name, over in {
        "timetable going back": {"lines": [{**line0, "stops": [{**s, "time_s": t} for s, t in
                                                               zip(line0["stops"], [60, 120, 100, 200, 260], strict=True)]}]},
        "stop off the route": {"lines": [{**line0, "stops": [{**line0["stops"][0], "edge": "N1_J1"}]}]},
        "stop beyond its edge": {"lines": [{**line0, "stops": [{**line0["stops"][0], "pos_m": 1e6}]}]},
        "unknown route edge": {"lines": [{**line0, "route": ["W_J1", "NOPE"]}]},
        "route with a gap": {"lines": [{**line0, "route": ["W_J1", "J2_J3"]}]},
        "headway and departures": {"lines": [{**line0, "departures_s": [10.0]}]},
        "negative headway": {"lines": [{**line0, "headway_s": -5}]},
        "huge dwell": {"lines": [{**line0, "dwell_s": 1e9}]},
        "no lines": {"lines": []},
        "checkin nan": {"priority": {"checkin_m": float("nan")}},
        "unknown controller": {"controller": "magic"},
        "charger at an unknown stop": {"chargers": [{"stop": "nowhere"}]},
    }.items():
        out.append(Case("transit", name, {"t.yaml": _dump({**bus, **over}), **bus_support}, ["scenario", "validate", "t.yaml"]))
    taxi = {**_load("scenarios/transit/district_taxi.yaml"), "scenario": "traffic.yaml"}
    for name, over in {
        "no taxis": {"fleet_size": 0},
        "unknown depot": {"depots": ["NOPE"]},
        "no requests": {"requests": {**taxi["requests"], "per_h": 0}},
        "pickups too far apart": {"requests": {**taxi["requests"], "min_distance_m": 1e7}},
        "missing request table": {"requests": "nowhere.csv"},
    }.items():
        out.append(Case("taxi", name, {"x.yaml": _dump({**taxi, **over}), **support}, ["scenario", "validate", "x.yaml"]))
    ev_traffic = _abs(_load("scenarios/ev_charging/district.yaml"))
    ev_support = {"traffic.yaml": _dump(ev_traffic)}
    ev = {**_load("scenarios/ev_charging/district_ev.yaml"), "scenario": "traffic.yaml"}
    out += _field_cases("charging", ev, "c.yaml", ev_support, skip=("scenario",))
    out += _structural("charging", ev, "c.yaml", ev_support)
    for name, over in {
        "soc 3": {"initial_soc": {"kind": "uniform", "low": 0.1, "high": 3}},
        "negative battery": {"battery_kwh": {"kind": "choice", "values": [-40, 60]}},
        "negative weights": {"battery_kwh": {"kind": "choice", "values": [40, 60], "weights": [-1, 2]}},
        "infinite power": {"candidates": {"power_kw": math.inf}},
        "unknown ev type": {"ev_type": "tesla"},
    }.items():
        out.append(Case("charging", name, {"c.yaml": _dump({**ev, **over}), **ev_support}, ["scenario", "validate", "c.yaml"]))
    # a toll plaza
    plaza = _load("scenarios/tolling/plaza8.yaml")
    out += _field_cases("plaza", plaza, "t.yaml", {})
    out += _structural("plaza", plaza, "t.yaml", {})
    for name, over in {
        "overlapping periods": {"demand": [{"begin_s": 0, "end_s": 3600, "flow_veh_h": 100},
                                           {"begin_s": 1800, "end_s": 7200, "flow_veh_h": 100}]},
        "no booths": {"booths": []},
        "unknown booth": {"booths": ["mtc", "teleport"]},
    }.items():
        out.append(Case("plaza", name, {"t.yaml": _dump({**plaza, **over})}, ["scenario", "validate", "t.yaml"]))
    # a sweep
    sweep = {"name": "s", "base": str(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml"), "set": {"end_s": 600},
             "vary": {"demand.trips_veh_h": [600, 1200], "controller": ["fixed", "maxpressure"]}, "seeds": 2,
             "output": "out"}
    out += _field_cases("sweep", sweep, "w.yaml", {}, skip=("output", "name", "seeds"))
    for v in (0, -1, math.nan, "ten", [1, 1], [-3], 2**40):
        out.append(Case("sweep", f"seeds={v!r}", {"w.yaml": _dump({**sweep, "seeds": v})}, ["scenario", "validate", "w.yaml"]))
    for name, over in {
        "seeds a billion": {"seeds": 1_000_000_000},
        "unknown controller": {"vary": {"controller": ["fixed", "magic"]}},
        "bad field value": {"vary": {"demand.trips_veh_h": [-5, 10]}},
        "base missing": {"base": "nowhere.yaml"},
        "vary alias bomb": None,
    }.items():
        if over is None:
            body = b"name: s\nbase: " + sweep["base"].encode() + b"\nseeds: 1\noutput: out\n" + \
                b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + b"".join(
                    f"v{i}: &v{i} [{', '.join(['*a' if i == 0 else f'*v{i - 1}'] * 10)}]\n".encode() for i in range(8)) + \
                b"vary: {demand.trips_veh_h: *v7}\n"
            out.append(Case("sweep", name, {"w.yaml": body}, ["scenario", "validate", "w.yaml"]))
            continue
        out.append(Case("sweep", name, {"w.yaml": _dump({**sweep, **over})}, ["scenario", "validate", "w.yaml"]))
    out += _option_cases()
    out += _tntp_cases()
    out += _count_cases()
    out += _document_cases()
    out += _sumo_file_cases()
    return out


def _network_attribute_cases() -> list[Case]:
    """Every attribute of a SUMO network that the toolkit reads, malformed in turn (through `network info` and
    `signals validate`), and every required one removed."""
    import re as _re

    from mobility._sumoxml import NETWORK_ATTRIBUTES, NETWORK_REQUIRED
    from mobility.signals.plan import plans_from_net

    net = NETWORKS / "grid3x3.net.xml"
    text = net.read_text()
    plans = [p.model_dump(mode="json") for p in plans_from_net(net).values()]
    doc = json.dumps({"format": "mobility.signal_plans", "format_version": 1, "plans": plans[:1]}).encode()
    out: list[Case] = []
    for element, attrs in NETWORK_ATTRIBUTES.items():
        for att, typ in attrs.items():
            bad_values = ["x1"] if typ == "integer" else ["fast", "nan", "inf"] if typ == "number" else []
            for v in bad_values:
                pat = _re.compile(rf'(<{element} [^>]*?\b{_re.escape(att)}=")[^"]*"')
                if element == "connection" and att.startswith("linkIndex"):
                    pat = _re.compile(rf'(<connection [^>]*?tl="[^"]*"[^>]*?\b{_re.escape(att)}=")[^"]*"')
                new = pat.sub(rf'\g<1>{v}"', text, count=1)
                if new == text:
                    continue
                commands = [["network", "info", "n.net.xml"]]
                if element in ("connection", "request", "tlLogic", "phase", "lane"):  # what the signal models read
                    commands.append(["signals", "validate", "plans.json", "--network", "n.net.xml"])
                for argv in commands:
                    out.append(Case("network", f"{element}.{att}={v} ({argv[0]})", {"n.net.xml": new.encode(),
                                                                                     "plans.json": doc},
                                    argv, names="n.net.xml"))
        for att in NETWORK_REQUIRED.get(element, ()):
            pat = _re.compile(rf'(<{element} [^>]*?)\s{_re.escape(att)}="[^"]*"')
            new = pat.sub(r"\1", text, count=1)
            if new != text:
                out.append(Case("network", f"{element} without {att}", {"n.net.xml": new.encode()},
                                ["network", "info", "n.net.xml"]))
    return out


def _sumo_file_cases() -> list[Case]:
    """Additional and route files judged by content, SUMO configurations, and the classes of defect found in
    use: system folders as outputs, a layout report that is a scalar, a plaza no booth mix can carry, a TNTP
    node file with a word for a coordinate, sweep options out of range."""
    grid = _abs(_load("scenarios/signal_control/grid3x3.yaml"))
    net = str(NETWORKS / "grid3x3.net.xml")
    out = _network_attribute_cases()
    adds = {
        "doctype": '<!DOCTYPE add [<!ENTITY x "y">]><add><vType id="a"/></add>',
        "entity bomb": '<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><add>&b;</add>',
        "deep": "<add>" + "<x>" * 500 + "</x>" * 500 + "</add>",
        "schema and unknown element": '<additional xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                                      'xsi:noNamespaceSchemaLocation="http://sumo.dlr.de/xsd/additional_file.xsd">'
                                      '<vType id="a"/><bogus/></additional>',
        "a network": (NETWORKS / "grid3x3.net.xml").read_text(),
        "not xml": "hello",
        "truncated": '<add><busStop id="s" lane="A0A1_0" startPos="1" endPos="20"',
        "binary": "\x00\x01\x02",
    }
    for name, body in adds.items():
        out.append(Case("additional", name, {"s.yaml": _dump({**grid, "additional_files": ["a.add.xml"]}),
                                             "a.add.xml": body.encode()}, ["scenario", "validate", "s.yaml"],
                        names="a.add.xml"))
    for name in ("doctype", "deep", "not xml", "truncated"):
        body = adds[name].replace("<add>", "<routes>").replace("</add>", "</routes>")
        sc = {**grid, "demand": {"kind": "files", "files": ["r.rou.xml"]}}
        out.append(Case("routes", f"content {name}", {"s.yaml": _dump(sc), "r.rou.xml": body.encode()},
                        ["scenario", "validate", "s.yaml"], names="r.rou.xml"))
    cfg_ok = (f'<configuration><input><net-file value="{net}"/><route-files value="r.rou.xml"/></input>'
              '<time><end value="60"/></time></configuration>')
    route = b'<routes><trip id="a" depart="0" from="left0A0" to="C2right2"/></routes>'
    cfgs = {
        "unknown option": cfg_ok.replace("<time>", '<time><no-such-option value="1"/>'),
        "no network": cfg_ok.replace(f'<net-file value="{net}"/>', ""),
        "missing route file": cfg_ok.replace("r.rou.xml", "nowhere.rou.xml"),
        "missing network": cfg_ok.replace(net, "nowhere.net.xml"),
        "doctype": '<!DOCTYPE c [<!ENTITY x "y">]>' + cfg_ok,
        "html root": "<html><body>hi</body></html>",
        "not xml": "hello",
        "end not a time": cfg_ok.replace('<end value="60"/>', '<end value="soon"/>'),
        "additional not xml": cfg_ok.replace("</input>", '<additional-files value="a.add.xml"/></input>'),
    }
    for name, body in cfgs.items():
        for argv in (["run", "c.sumocfg", "-o", "c.nc"], ["scenario", "validate", "c.sumocfg"]):
            out.append(Case("sumocfg", f"{name} ({argv[0]})", {"c.sumocfg": body.encode(), "r.rou.xml": route,
                                                               "a.add.xml": b"hello"}, argv, names="c.sumocfg"))
    grid_yaml = str(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    sweep_file = str(ROOT / "scenarios" / "sweeps" / "parking.yaml")
    sweep = {**_load("scenarios/sweeps/parking.yaml"), "base": str(ROOT / "scenarios" / "parking" / "district.yaml"),
             "output": "/proc/mobility-sweep"}
    out += [
        Case("option", "run --output in /proc", {}, ["run", grid_yaml, "--output", "/proc/x.nc"], names="/proc/x.nc"),
        Case("option", "run --output in /sys", {}, ["run", grid_yaml, "--output", "/sys/x.nc"], names="/sys/x.nc"),
        Case("option", "sweep run --workers 0", {}, ["sweep", "run", sweep_file, "--workers", "0"], names="--workers"),
        Case("option", "sweep run --retries -1", {}, ["sweep", "run", sweep_file, "--retries", "-1"], names="--retries"),
        Case("sweep", "output in /proc", {"w.yaml": _dump(sweep)}, ["sweep", "run", "w.yaml"]),
    ]
    plaza = _load("scenarios/tolling/plaza8.yaml")
    big = {**plaza, "demand": [{**d, "flow_veh_h": d["flow_veh_h"] * 20} for d in plaza["demand"]]}
    out.append(Case("plaza", "no mix carries the flow", {"t.yaml": _dump(big)},
                    ["tolling", "optimise", "t.yaml", "--seeds", "0", "-o", "s.json"]))
    ev_traffic = _abs(_load("scenarios/ev_charging/district.yaml"))
    ev = {**_load("scenarios/ev_charging/district_ev.yaml"), "scenario": "traffic.yaml"}
    lay = {"name": "mine", "stations": [{"site": "cs_B1C1", "points": 2}]}
    for name, report in {"report a number": 42, "report a list": [1, 2], "report text": "fine"}.items():
        out.append(Case("layout", name, {"c.yaml": _dump(ev), "traffic.yaml": _dump(ev_traffic),
                                         "lay.yaml": _dump({**lay, "report": report})},
                        ["charging", "compare", "c.yaml", "--layouts", "lay.yaml", "--seeds", "1"], names="lay.yaml"))
    head = ("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 2\n<END OF METADATA>\n"
            "~ init term capacity length fft b power speed toll type ;\n1 2 100 1 1 0.15 4 0 0 1 ;\n2 3 100 1 1 0.15 4 0 0 1 ;\n")
    for name, nodes in {"coordinate a word": "Node X Y ;\n1 0 0 ;\n2 abc 1 ;\n3 2 2 ;\n",
                        "coordinate inf": "Node X Y ;\n1 0 0 ;\n2 inf 1 ;\n3 2 2 ;\n"}.items():
        out.append(Case("tntp", f"nodes {name}", {"n_net.tntp": head.encode(), "n_node.tntp": nodes.encode()},
                        ["network", "info", "n_net.tntp"], names="n_node.tntp"))
    return out


def _count_cases() -> list[Case]:
    """Malformed count files, through ``mobility calibrate`` (edge data, E1 output, CSV) on a small TNTP network."""
    head = ("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 2\n<END OF METADATA>\n"
            "~ init term capacity length fft b power speed toll type ;\n")
    net = (head + "1 2 100 1 1 0.15 4 0 0 1 ;\n2 3 100 1 1 0.15 4 0 0 1 ;\n").encode()
    csv_head = "location,begin_s,end_s,count_veh\n"
    bodies = {
        "c.csv": {
            "negative": csv_head + "1,0,3600,-4\n", "nan": csv_head + "1,0,3600,nan\n", "inf": csv_head + "1,0,3600,inf\n",
            "unknown edge": csv_head + "9,0,3600,4\n", "overlap": csv_head + "1,0,3600,4\n1,1800,5400,4\n",
            "empty interval": csv_head + "1,3600,3600,4\n", "no rows": csv_head, "missing column": "location,count_veh\n1,4\n",
            "text count": csv_head + "1,0,3600,many\n", "empty location": csv_head + ",0,3600,4\n",
            "turn not consecutive": csv_head + "2>1,0,3600,4\n", "not utf8": csv_head + "1,0,3600,4\udce9\n",
            "binary": "\x00\x01\x02",
        },
        "c.xml": {
            "not xml": "<data><interval begin='0' end='60'>", "no counts": "<data><interval begin='0' end='60'/></data>",
            "edge outside interval": "<data><edge id='1' entered='3'/></data>",
            "entity": "<!DOCTYPE d [<!ENTITY x 'y'>]><data/>", "wrong root": "<net/>",
            "bad begin": "<data><interval begin='x' end='60'><edge id='1' entered='3'/></interval></data>",
            "e1 without definitions": "<detector><interval begin='0' end='60' id='d' nVehContrib='3'/></detector>",
            "relation without to": "<data><interval begin='0' end='60'><edgeRelation from='1' count='2'/></interval></data>",
        },
    }
    out = []
    for fname, cases in bodies.items():
        for name, text in cases.items():
            out.append(Case("counts", name, {"n_net.tntp": net, fname: text.encode("utf-8", "surrogateescape")},
                            ["calibrate", "n_net.tntp", "--method", "odme", "--counts", fname, "-o", "o_trips.tntp"],
                            names=fname))
    return out


def _document_cases() -> list[Case]:
    """Plans (JSON and SUMO XML), charging layouts, booth schedules, SUMO networks, CSV tables, OR-Library files."""
    from mobility.signals.plan import plans_from_net, plans_to_sumo

    net = NETWORKS / "grid3x3.net.xml"
    plans = [p.model_dump(mode="json") for p in plans_from_net(net).values()]
    doc = {"format": "mobility.signal_plans", "format_version": 1, "plans": plans[:1]}
    out: list[Case] = []
    validate = ["signals", "validate", "plans.json", "--network", str(net)]
    for path, value in _leaves(doc["plans"][0]):
        if path and path[0] == "metadata":
            continue
        if isinstance(value, list):
            bad: tuple[Any, ...] = ({"a": 1}, math.nan, "ten")  # a list of link indices may be any valid list
        else:
            bad = BAD_NUMBERS if isinstance(value, int | float) and not isinstance(value, bool) else BAD_TEXT
        for v in bad[:3]:
            d = {**doc, "plans": [_set(doc["plans"][0], path, v)]}
            out.append(Case("plans", ".".join(map(str, path)) + f"={v!r}", {"plans.json": json.dumps(d).encode()}, validate))
    for name, body in {"a number": b"42", "empty mapping": b"{}", "no plans": b'{"plans": []}', "not json": b"{plans",
                       "non-utf8": b'{"plans": "\xe9"}', "deep": b"[" * 5000 + b"]" * 5000,
                       "infinity": json.dumps({**doc, "plans": [{**plans[0], "cycle_s": "Infinity"}]}).encode().replace(
                           b'"Infinity"', b"Infinity")}.items():
        out.append(Case("plans", name, {"plans.json": body}, validate))
    xml = plans_to_sumo([plans_from_net(net)[next(iter(plans_from_net(net)))]])
    xml_validate = ["signals", "validate", "plans.add.xml", "--network", str(net)]
    for name, (a, b) in {"version two": ('key="mobility.version" value="1"', 'key="mobility.version" value="two"'),
                         "offset soon": ('offset="', 'offset="soon" x="'),
                         "truncated": ("</additional>", ""),
                         "duration nan": ('duration="', 'duration="nan" y="')}.items():
        if a in xml:
            out.append(Case("plans", f"xml {name}", {"plans.add.xml": xml.replace(a, b, 1).encode()}, xml_validate))
    # charging layouts, through `charging compare` (refused before any run)
    ev_traffic = _abs(_load("scenarios/ev_charging/district.yaml"))
    ev = {**_load("scenarios/ev_charging/district_ev.yaml"), "scenario": "traffic.yaml"}
    ev_files = {"c.yaml": _dump(ev), "traffic.yaml": _dump(ev_traffic)}
    lay = {"name": "mine", "stations": [{"site": "cs_B1C1", "points": 2}, {"site": "cs_C2C3", "points": 2}]}
    for name, body in {"points inf": {**lay, "stations": [{"site": "cs_B1C1", "points": math.inf}]},
                       "points 0": {**lay, "stations": [{"site": "cs_B1C1", "points": 0}]},
                       "points ten": {**lay, "stations": [{"site": "cs_B1C1", "points": "ten"}]},
                       "unknown site": {**lay, "stations": [{"site": "cs_nowhere", "points": 2}]},
                       "no stations": {**lay, "stations": []}, "stations a number": {**lay, "stations": 3},
                       "pos nan": {**lay, "stations": [{"site": "x", "edge": "B1C1", "pos_m": math.nan, "power_kw": 50,
                                                         "points": 2}]},
                       "power negative": {**lay, "stations": [{"site": "x", "edge": "B1C1", "pos_m": 10, "power_kw": -50,
                                                               "points": 2}]},
                       "a list": [1, 2]}.items():
        out.append(Case("layout", name, {**ev_files, "lay.yaml": _dump(body)},
                        ["charging", "compare", "c.yaml", "--layouts", "lay.yaml", "--seeds", "1"], names="lay.yaml"))
    # booth schedules, through `tolling compare`
    plaza = str(ROOT / "scenarios" / "tolling" / "plaza8.yaml")
    sched = {"plaza": "plaza8", "n_booths": 8, "etc_penetration": 0.5,
             "periods": [{"start_s": 0, "flow_veh_h": 300, "etc": 2, "mtc": 4, "mixed": 2,
                          "booths": ["mtc", "mtc", "mtc", "mtc", "mixed", "mixed", "etc", "etc"],
                          "surrogate_delay_s": 1.0}]}
    for name, body in {"a number": 5, "periods missing": {k: v for k, v in sched.items() if k != "periods"},
                       "booth magic": {**sched, "periods": [{**sched["periods"][0], "booths": ["magic"] * 8}]},
                       "start nan": {**sched, "periods": [{**sched["periods"][0], "start_s": math.nan}]},
                       "extra field": {**sched, "colour": 1}}.items():
        out.append(Case("schedule", name, {"s.json": json.dumps(body).encode() if not isinstance(body, int) else b"5"},
                        ["tolling", "compare", plaza, "--mixes", "as_built,s.json", "--seeds", "1"], names="s.json"))
    # SUMO networks
    text = net.read_text()
    for name, body in {"truncated": text[: len(text) // 2], "edge from undefined node": text.replace('from="A0"', 'from="ZZ"', 1),
                       "connection without linkIndex": text.replace(" linkIndex=", " noIndex=", 1),
                       "not xml": "hello", "binary": "\x00\x01", "empty": ""}.items():
        out.append(Case("network", name, {"n.net.xml": body.encode()}, ["network", "info", "n.net.xml"]))
    # CSV tables of a parking study and of a charging study
    traffic = _abs(_load("scenarios/parking/district_traffic.yaml"))
    park = {**_load("scenarios/parking/district.yaml"), "scenario": "traffic.yaml", "areas": "areas.csv"}
    park_files = {"p.yaml": _dump(park), "traffic.yaml": _dump(traffic)}
    for name, rows in {"capacity nan": "a1,B1C1,nan,lot", "capacity huge": "a1,B1C1,1e14,lot",
                       "unknown edge": "a1,NOPE,4,lot", "kind magic": "a1,B1C1,4,magic", "start after end": "a1,B1C1,4,lot,90,10",
                       "header only": None, "non-utf8": "a1,B1C1,4,lot,\udce9"}.items():
        body = "id,edge,capacity,kind,start_m,end_m\n" + (rows + "\n" if rows else "")
        out.append(Case("csv", f"areas {name}", {**park_files, "areas.csv": body.encode("utf-8", "surrogateescape")},
                        ["scenario", "validate", "p.yaml"], names="areas.csv"))
    ev_csv = {**ev, "candidates": "sites.csv"}
    for name, row in {"power inf": "s1,B1C1,100,inf,4,1", "pos nan": "s1,B1C1,nan,50,4,1", "points 0": "s1,B1C1,100,50,0,1",
                      "cost negative inf": "s1,B1C1,100,50,4,-inf", "short row": "s1,B1C1"}.items():
        out.append(Case("csv", f"sites {name}", {**ev_files, "c.yaml": _dump(ev_csv),
                                                 "sites.csv": f"id,edge,pos_m,power_kw,max_points,cost\n{row}\n".encode()},
                        ["scenario", "validate", "c.yaml"], names="sites.csv"))
    # the user's own route files (demand kind: files), checked against the network before SUMO starts
    routes = {"unknown edge": '<routes><trip id="a" depart="0" from="NOPE" to="B1C1"/></routes>',
              "route with a gap": '<routes><vehicle id="v" depart="0"><route edges="A0A1 C2C3"/></vehicle></routes>',
              "named route with a gap": '<routes><route id="r" edges="A0A1 C2C3"/><vehicle id="v" depart="0" route="r"/></routes>',
              "flow from a missing edge": '<routes><flow id="f" begin="0" end="9" number="2" from="X" to="A0A1"/></routes>',
              "not xml": "<routes><trip id='a'", "binary": "\x00\x01\x02"}
    for name, body in routes.items():
        sc = {**_abs(_load("scenarios/parking/district_traffic.yaml")), "demand": {"kind": "files", "files": ["r.rou.xml"]}}
        out.append(Case("routes", name, {"s.yaml": _dump(sc), "r.rou.xml": body.encode()}, ["scenario", "validate", "s.yaml"],
                        names="r.rou.xml"))
    # OSM extracts, through `network import`
    for name, body in {"not xml": b"<osm><node id='1'", "empty": b"", "binary": b"\x00\x01", "gzip truncated": b"\x1f\x8b\x08\x00",
                       "no roads": b'<osm version="0.6"><node id="1" lat="50" lon="8"/></osm>'}.items():
        out.append(Case("osm", name, {"c.osm": body}, ["network", "import", "c.osm", "-o", "c.net.xml"], names="c.osm"))
    # OR-Library instances, through the readers (Python API)
    for name, body in {"pmed n huge": "99999999 1 1\n1 2 3\n", "pmed p > n": "3 1 9\n1 2 3\n",
                       "pmed cost nan": "3 1 1\n1 2 nan\n", "pmed words": "three one one\n",
                       "pmed non-ascii": "3 1 1\n1 2 \u00e9\n", "cap m huge": "99999999 2\n",
                       "cap demand inf": "1 1\n10 5\ninf 3\n"}.items():
        fn = "read_pmed" if name.startswith("pmed") else "read_cap"
        out.append(Case("orlib", name, {"i.txt": body.encode()}, ["__python__", f"mobility.orlib:{fn}", "i.txt"]))
    return out


def _option_cases() -> list[Case]:
    """Command-line options out of range, and output paths that cannot be written, refused before any work."""
    grid = str(ROOT / "scenarios" / "signal_control" / "grid3x3.yaml")
    park = str(ROOT / "scenarios" / "parking" / "district.yaml")
    ev = str(ROOT / "scenarios" / "ev_charging" / "district_ev.yaml")
    plaza = str(ROOT / "scenarios" / "tolling" / "plaza8.yaml")
    sf = ROOT.parent / "shared" / "benchmarks" / "tntp" / "SiouxFalls"
    net, trips = str(sf / "SiouxFalls_net.tntp"), str(sf / "SiouxFalls_trips.tntp")
    argvs = {
        "run --seed -5": ["run", grid, "--seed", "-5"],
        "run --seed huge": ["run", grid, "--seed", str(2**40)],
        "run --output txt": ["run", grid, "--output", "out.txt"],
        "run --output folder": ["run", grid, "--output", "."],
        "run --output missing folder": ["run", grid, "--output", "nope/out.nc"],
        "run --plot xyz": ["run", grid, "--output", "o.nc", "--plot", "p.xyz"],
        "run --backend magic": ["run", grid, "--backend", "magic"],
        "run --workdir missing": ["run", grid, "--workdir", "nope"],
        "assign --rgap 0": ["assign", net, "--trips", trips, "--rgap", "0"],
        "assign --rgap nan": ["assign", net, "--trips", trips, "--rgap", "nan"],
        "assign --max-iter -1": ["assign", net, "--trips", trips, "--max-iter", "-1"],
        "assign --method magic": ["assign", net, "--trips", trips, "--method", "magic"],
        "assign --threads 0": ["assign", net, "--trips", trips, "--threads", "0"],
        "assign --output folder": ["assign", net, "--trips", trips, "--output", "."],
        "assign --output txt": ["assign", net, "--trips", trips, "--output", "f.txt"],
        "charging optimise --output txt": ["charging", "optimise", ev, "--output", "l.txt"],
        "signals optimise --output missing folder": ["signals", "optimise", grid, "--output", "nope/plans"],
        "signals validate missing network": ["signals", "validate", grid, "--network", "nope.net.xml"],
        "tokens --expires-in huge": ["tokens", "create", "--db", "t.db", "--subject", "x", "--scopes", "plans:read",
                                     "--expires-in", "99999999999d"],
        "tokens --expires-in soon": ["tokens", "create", "--db", "t.db", "--subject", "x", "--scopes", "plans:read",
                                     "--expires-in", "soon"],
        "tokens bad scope": ["tokens", "create", "--db", "t.db", "--subject", "x", "--scopes", "root"],
        "audit show --limit -1": ["audit", "show", "--db", "t.db", "--limit", "-1"],
        "serve --port 99999": ["serve", "--port", "99999", "--db", "t.db"],
        "serve --port 0": ["serve", "--port", "0", "--db", "t.db"],
        "frlm --range nan": ["charging", "frlm", net, trips, "--range", "nan"],
        "frlm --range -1": ["charging", "frlm", net, trips, "--range", "-1"],
        "frlm --p 0": ["charging", "frlm", net, trips, "--p", "0"],
        "frlm --p abc": ["charging", "frlm", net, trips, "--p", "abc"],
        "charging optimise --p 0": ["charging", "optimise", ev, "--p", "0"],
        "charging optimise --method magic": ["charging", "optimise", ev, "--method", "magic"],
        "charging compare --layouts magic": ["charging", "compare", ev, "--layouts", "magic:p=3"],
        "charging compare --points 0": ["charging", "compare", ev, "--points", "0"],
        "parking compare --workers 0": ["parking", "compare", park, "--workers", "0"],
        "parking compare --retries -1": ["parking", "compare", park, "--retries", "-1"],
        "parking compare --seeds 0": ["parking", "compare", park, "--seeds", "0"],
        "parking compare --seeds a": ["parking", "compare", park, "--seeds", "a"],
        "parking compare --seeds 1,1": ["parking", "compare", park, "--seeds", "1,1"],
        "parking compare --seeds huge": ["parking", "compare", park, "--seeds", "1000000000"],
        "parking compare --compliance 2": ["parking", "compare", park, "--compliance", "2"],
        "parking compare --time-limit 0": ["parking", "compare", park, "--time-limit", "0"],
        "parking compare --output folder": ["parking", "compare", park, "--output", "."],
        "parking compare --output txt": ["parking", "compare", park, "--output", "o.txt"],
        "signals compare magic": ["signals", "compare", grid, "--controllers", "fixed,magic"],
        "signals compare --min-green-s 0": ["signals", "compare", grid, "--min-green-s", "0"],
        "signals evaluate --plot xyz": ["signals", "evaluate", grid, "--plot", "p.xyz"],
        "tolling compare missing schedule": ["tolling", "compare", plaza, "--mixes", "as_built,nope.json"],
        "tolling compare --penetration-plot xyz": ["tolling", "compare", plaza, "--penetration-plot", "p.xyz"],
        "tolling optimise --output txt": ["tolling", "optimise", plaza, "--output", "s.txt"],
        "network build --size 0": ["network", "build", "grid", "g.net.xml", "--size", "0"],
        "network build magic": ["network", "build", "magic", "g.net.xml"],
        "network info missing": ["network", "info", "nope.net.xml"],
        "network import missing": ["network", "import", "nope.osm", "-o", "n.net.xml"],
        "network import --output txt": ["network", "import", "nope.osm", "--output", "n.txt"],
        "network import --keep-vclasses car": ["network", "import", "nope.osm", "-o", "n.net.xml", "--keep-vclasses", "car"],
        "network import --signals magic": ["network", "import", "nope.osm", "-o", "n.net.xml", "--signals", "magic"],
        "parking init missing network": ["parking", "init", "nope.net.xml", "-o", "p.yaml"],
        "parking init --centre unknown": ["parking", "init", str(NETWORKS / "district5x5.net.xml"), "-o", "p.yaml",
                                          "--centre", "NOPE"],
        "parking init --output txt": ["parking", "init", str(NETWORKS / "district5x5.net.xml"), "--output", "p.txt"],
        "charging init --output missing folder": ["charging", "init", str(NETWORKS / "district5x5.net.xml"), "--output",
                                                  "nope/c.yaml"],
        "sweep run missing": ["sweep", "run", "nope.yaml"],
    }
    return [Case("option", name, {}, argv, names="|".join(_named(name, argv))) for name, argv in argvs.items()]


def _named(name: str, argv: list[str]) -> list[str]:
    """What an option case's error may name: the option at fault, or the value given to it."""
    words = [w for w in name.split() if w.startswith("--")]
    out = []
    for w in words:
        out.append(w)
        if w in argv and argv.index(w) + 1 < len(argv):
            out.append(argv[argv.index(w) + 1])
    return out or [p for a in argv[2:] if not a.startswith("-") for p in a.split(",")]


def _tntp_cases() -> list[Case]:
    """Malformed TNTP networks and OD matrices, through ``mobility assign`` and ``network info``."""
    head = ("<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 2\n<END OF METADATA>\n"
            "~ init term capacity length fft b power speed toll type ;\n")
    links = "1 2 100 1 1 0.15 4 0 0 1 ;\n2 3 100 1 1 0.15 4 0 0 1 ;\n"
    trips_ok = "<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 10\n<END OF METADATA>\nOrigin 1\n2 : 10;\nOrigin 2\n1 : 0;\n"
    nets = {
        "nodes inf": head.replace("NODES> 3", "NODES> inf") + links,
        "nodes 4e9": head.replace("NODES> 3", "NODES> 4000000000") + links,
        "link to an undefined node": head + links.replace("2 3 100", "2 99 100"),
        "capacity nan": head + links.replace("1 2 100", "1 2 nan"),
        "negative fft": head + links.replace("1 2 100 1 1", "1 2 100 1 -1"),
        "short row": head + "1 2 100 ;\n",
        "non-utf8": head.encode().decode() + "\udce9",
        "links count wrong": head.replace("LINKS> 2", "LINKS> 7") + links,
        "empty": "",
    }
    trips = {
        "zones 1e7": trips_ok.replace("ZONES> 2", "ZONES> 10000000"),
        "all zero": trips_ok.replace("2 : 10;", "2 : 0;"),
        "negative flow": trips_ok.replace("2 : 10;", "2 : -10;"),
        "flow inf": trips_ok.replace("2 : 10;", "2 : inf;"),
        "destination 99": trips_ok.replace("2 : 10;", "99 : 10;"),
        "garbage": "Origin x\n: : ;;\n",
    }
    out = []
    for name, text in nets.items():
        body = text.encode("utf-8", "surrogateescape")
        out.append(Case("tntp", f"net {name}", {"n_net.tntp": body, "n_trips.tntp": trips_ok.encode()},
                        ["assign", "n_net.tntp", "--trips", "n_trips.tntp"], names="n_net.tntp"))
    for name, text in trips.items():
        out.append(Case("tntp", f"trips {name}", {"n_net.tntp": (head + links).encode(), "n_trips.tntp": text.encode()},
                        ["assign", "n_net.tntp", "--trips", "n_trips.tntp"], names="n_trips.tntp"))
    return out


def run_case(case: Case, folder: Path) -> dict[str, Any]:
    """Run one case in ``folder`` (its cwd); the outcome."""
    import os

    from typer.testing import CliRunner

    from mobility.cli import app

    folder.mkdir(parents=True, exist_ok=True)
    for name, body in case.files.items():
        (folder / name).write_bytes(body)
    before = set(folder.iterdir())
    old = os.getcwd()
    os.chdir(folder)
    try:
        if case.argv[0] == "__python__":
            r = _call(case.argv[1], case.argv[2:])
        else:
            r = CliRunner().invoke(app, case.argv, catch_exceptions=True)
    finally:
        os.chdir(old)
    out = r.output or ""  # stdout and stderr together
    lines = [x for x in out.strip().splitlines() if x.strip()]
    errors = [x for x in lines if x.lower().startswith("error:")]
    left = sorted(str(p.name) for p in set(folder.iterdir()) - before)
    named = (case.names or next(iter(case.files))).split("|")
    return {"kind": case.kind, "name": case.name, "exit": r.exit_code, "output": out[-600:],
            "traceback": r.exception is not None and not isinstance(r.exception, SystemExit),
            "exception": repr(r.exception)[:300] if r.exception is not None and not isinstance(r.exception, SystemExit) else "",
            "one_line": len(errors) == 1, "names_file": any(n in e for e in errors for n in named), "left_behind": left,
            "may_pass": bool(case.extra.get("may_pass"))}


@dataclass
class _Result:
    exit_code: int
    output: str
    exception: BaseException | None = None


def _call(target: str, args: list[str]) -> _Result:
    """A library reader called as the CLI would: an InputError becomes exit 2 and one error line."""
    import importlib

    from mobility import MobilityError

    module, _, name = target.partition(":")
    try:
        getattr(importlib.import_module(module), name)(*args)
    except MobilityError as exc:
        return _Result(2, f"error: {exc}\n")
    except Exception as exc:  # noqa: BLE001 - a traceback, counted as one
        return _Result(1, "", exc)
    return _Result(0, "")


def main(argv: list[str]) -> int:
    import tempfile

    out = Path(argv[0])
    k, n = (int(x) for x in argv[1].split("/")) if len(argv) > 1 else (0, 1)  # shard k of n: every n-th case
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(cases()):
            if i % n != k:
                continue
            try:
                results.append(run_case(c, Path(tmp) / f"c{i}"))
            except MemoryError:
                results.append({"kind": c.kind, "name": c.name, "exit": None, "traceback": True, "exception": "MemoryError",
                                "one_line": False, "names_file": False, "left_behind": [], "output": "", "may_pass": False})
    out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
