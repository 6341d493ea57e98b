"""The command line (real console script in a subprocess) and the plots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import mobility as mb

from .conftest import ROOT

MOBILITY = shutil.which("mobility") or str(Path(sys.executable).with_name("mobility"))


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOBILITY, *args], capture_output=True, text=True, cwd=cwd, timeout=600, check=False)


def small_yaml(tmp_path: Path, **edits: str) -> Path:
    text = f"""\
name: cli-test
network: {ROOT / 'networks' / 'corridor5.net.xml'}
end_s: 600
seed: 2
demand:
  kind: od
  pairs:
    - {{origin: W_J1, destination: J5_E, flow_veh_h: 600}}
    - {{origin: N3_J3, destination: J1_W, flow_veh_h: {edits.get('flow', '200')}}}
"""
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


def test_run_prints_kpis_and_writes_results_and_plot(tmp_path: Path) -> None:
    p = small_yaml(tmp_path)
    r = cli("run", str(p), "--output", "out.nc", "--plot", "out.png", "--seed", "9", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "mean_delay_s" in r.stdout and "vehicles_never_departed" in r.stdout
    ds = mb.load_results(tmp_path / "out.nc")
    assert ds.attrs["seed"] == 9 and ds.attrs["command"].startswith("mobility run")
    assert (tmp_path / "out.png").stat().st_size > 10_000
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.nc", "out.png", "s.yaml"]


def test_run_bad_input_one_line_error_and_no_output(tmp_path: Path) -> None:
    p = small_yaml(tmp_path, flow="-5")
    r = cli("run", str(p), "--output", "out.nc", cwd=tmp_path)
    assert r.returncode == 2
    err = r.stderr.strip()
    assert err.startswith("error:") and "\n" not in err
    assert "demand.pairs.1.flow_veh_h" in err and "s.yaml:9" in err
    assert not (tmp_path / "out.nc").exists()
    r = cli("run", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert r.returncode == 2 and "scenario file not found" in r.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.yaml"]


def test_scenario_validate_and_network_commands(tmp_path: Path) -> None:
    r = cli("scenario", "validate", *map(str, sorted((ROOT / "scenarios").rglob("*.yaml"))), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok:") == len(list((ROOT / "scenarios").rglob("*.yaml")))
    r = cli("network", "build", "corridor", "c.net.xml", "--size", "6", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "6 signals" in r.stdout
    r = cli("network", "info", "c.net.xml", cwd=tmp_path)
    assert r.returncode == 0 and "signals: 6" in r.stdout
    r = cli("network", "build", "hexagon", "h.net.xml", cwd=tmp_path)
    assert r.returncode == 2 and "unknown network kind 'hexagon'" in r.stderr
    assert not (tmp_path / "h.net.xml").exists()


def test_plot_network_colours_edges_by_value(grid_net: Path) -> None:
    net = mb.network_from_sumo(grid_net)
    values = np.arange(net.n_edges, dtype=float)
    fig, ax = mb.plot_network(net, values)
    coll = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(coll.get_array()), values)
    assert ax.get_xlabel() == "x [m]"
    plt.close(fig)
    with pytest.raises(mb.InputError, match="nothing to colour"):
        mb.plot_network(net, np.full(net.n_edges, np.nan))
    with pytest.raises(mb.InputError, match="one value per edge"):
        mb.plot_network(net, np.ones(3))


def test_plot_vehicles_and_dataarray_values(small_grid_scenario) -> None:
    ds = mb.run_scenario(small_grid_scenario)
    fig, ax = plt.subplots()
    out_fig, out_ax = mb.plot_vehicles(ds, ax=ax)
    assert out_ax is ax and out_fig is fig
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), ds["network_running"].values)
    fig2, ax2 = mb.plot_network(mb.load_network(small_grid_scenario.network), ds["edge_vehicles"])
    assert "veh" in fig2.axes[-1].get_ylabel()  # colour bar labelled with units
    plt.close("all")
    with pytest.raises(mb.InputError, match="no network time series"):
        mb.plot_vehicles(ds.drop_vars("network_running"))
