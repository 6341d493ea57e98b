"""Scenario specs: shipped files validate; bad input gives one line naming file, line, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import mobility as mb

from .conftest import ROOT

# plazas are read in test_tolling; studies (charging, parking) name a traffic scenario with a top-level
# 'scenario:' and are read in test_charging / test_parking (and their traffic scenarios here)
SHIPPED = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml")
                 if p.parent.name not in ("tolling", "sweeps") and not any(line.startswith("scenario:") for line in p.read_text().splitlines()))
STUDIES = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if p not in SHIPPED and p.parent.name not in ("tolling", "sweeps"))

GOOD = """\
name: t
network: {net}
end_s: 600
seed: 3
demand:
  kind: od
  pairs:
    - origin: left0A0
      destination: C2right2
      flow_veh_h: 300
"""


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenarios_validate(path: Path) -> None:
    sc = mb.load_scenario(path)
    assert sc.network.is_file()
    assert sc.end_s > sc.begin_s


@pytest.mark.parametrize("path", STUDIES, ids=[p.name for p in STUDIES])
def test_shipped_studies_validate(path: Path) -> None:
    from typer.testing import CliRunner

    from mobility.cli import app

    res = CliRunner().invoke(app, ["scenario", "validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "study" in res.output


def write(tmp_path: Path, text: str, grid_net: Path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text.format(net=grid_net))
    return p


def test_good_scenario_and_hash(tmp_path: Path, grid_net: Path) -> None:
    sc = mb.load_scenario(write(tmp_path, GOOD, grid_net))
    assert sc.demand.kind == "od" and sc.demand.pairs[0].flow_veh_h == 300
    assert sc.with_seed(4).spec_hash == sc.spec_hash  # the seed is recorded on its own
    assert sc.model_copy(update={"end_s": 700.0}).spec_hash != sc.spec_hash
    assert mb.load_scenario(write(tmp_path, GOOD, grid_net)).spec_hash == sc.spec_hash
    (tmp_path / "copy.net.xml").write_text(grid_net.read_text() + "<!-- edited -->\n")
    edited = mb.load_scenario(write(tmp_path, GOOD.replace("{net}", str(tmp_path / "copy.net.xml")), grid_net))
    assert edited.spec_hash != sc.spec_hash  # the network file's bytes count
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        sc.seed = 5  # type: ignore[misc]


@pytest.mark.parametrize(("old", "new", "expected"), [
    # wrong type: the unit belongs in the field name, not the value
    ("end_s: 600", "end_s: 10 min", r"s\.yaml:3: field 'end_s'.*got '10 min'.*plain number.*_s seconds"),
    # unit missing from the field name
    ("end_s: 600", "end: 600", r"s\.yaml:3: field 'end': .*did you mean 'end_s'"),
    # negative flow
    ("flow_veh_h: 300", "flow_veh_h: -300", r"s\.yaml:10: field 'demand\.pairs\.0\.flow_veh_h'.*greater than or equal to 0.*got -300"),
    # end before begin
    ("end_s: 600", "end_s: 600\nbegin_s: 900", r"end_s \(600.0\) must be greater than begin_s"),
    # unknown demand kind
    ("kind: od", "kind: matrix", r"field 'demand'.*od, routes, random, files"),
    # unknown edge id in demand
    ("destination: C2right2", "destination: C2rihgt2", r"s\.yaml: field 'demand\.pairs\.0\.destination': unknown edge id 'C2rihgt2'.*did you mean 'C2right2'"),
    # missing network file
    ("network: {net}", "network: nowhere.net.xml", r"s\.yaml:2: field 'network': file not found: .*nowhere\.net\.xml"),
    # broken YAML
    ("    - origin", "   - origin", r"s\.yaml:\d+: not valid YAML"),
])
def test_bad_scenarios(tmp_path: Path, grid_net: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new), grid_net)
    with pytest.raises(mb.ScenarioError, match=expected) as info:
        mb.load_scenario(path)
    assert "\n" not in str(info.value)  # one line


def test_route_must_be_connected(tmp_path: Path, grid_net: Path) -> None:
    text = GOOD.replace("""  kind: od
  pairs:
    - origin: left0A0
      destination: C2right2
      flow_veh_h: 300""", """  kind: routes
  flows:
    - edges: [left0A0, A0A1, B1B2]
      flow_veh_h: 100""")
    with pytest.raises(mb.ScenarioError, match=r"demand\.flows\.0\.edges\.2.*'B1B2' cannot follow 'A0A1'"):
        mb.load_scenario(write(tmp_path, text, grid_net))


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(mb.InputError, match="scenario file not found: .*absent.yaml"):
        mb.load_scenario(tmp_path / "absent.yaml")
