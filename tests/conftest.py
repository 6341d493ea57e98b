"""Shared fixtures: small networks built here with SUMO's tools, and the shared benchmark data."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from mobility._notebooks import SHARED  # ../shared/benchmarks, or MOBILITY_SHARED's benchmarks folder

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


def networks_script(name: str):
    """A script of ``networks/`` (``robustness``, ``sumo_city``) loaded as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "networks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def shared_path(*parts: str) -> Path:
    """A path under ../shared/benchmarks, or skip the test with the reason."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"benchmark data not available: {p} (expected ../shared/benchmarks beside the repository)")
    return p


def plain_net(folder: Path, name: str, nodes: str, edges: str, *args: str) -> Path:
    """``folder/name.net.xml`` built by netconvert from plain ``<nodes>`` and ``<edges>`` XML (and ``args``)."""
    from mobility._sumo import run_tool

    (folder / "n.nod.xml").write_text(f"<nodes>{nodes}</nodes>")
    (folder / "n.edg.xml").write_text(f"<edges>{edges}</edges>")
    out = folder / f"{name}.net.xml"
    run_tool("netconvert", ["-n", str(folder / "n.nod.xml"), "-e", str(folder / "n.edg.xml"), "-o", str(out),
                            "--no-warnings", *args], what=f"building the test network {name}")
    return out


@pytest.fixture(scope="session")
def link_net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 1000 m single-lane link 'ab' at 20 m/s, built with netconvert."""
    return plain_net(tmp_path_factory.mktemp("link"), "link", '<node id="a" x="0" y="0"/><node id="b" x="1000" y="0"/>',
                     '<edge id="ab" from="a" to="b" numLanes="1" speed="20"/>')


@pytest.fixture(scope="session")
def grid_net() -> Path:
    return ROOT / "networks" / "grid3x3.net.xml"


@pytest.fixture()
def small_grid_scenario(grid_net: Path):
    """A 20-minute random-demand scenario on the shipped grid."""
    from mobility import scenario_from_dict

    return scenario_from_dict({
        "name": "grid-small", "network": str(grid_net), "end_s": 1200, "seed": 7,
        "demand": {"kind": "random", "trips_veh_h": 900},
        "outputs": {"interval_s": 300},
    })
