"""SUMO from the wheels: binaries found without SUMO_HOME, versions checked."""

from __future__ import annotations

import os
import subprocess

from mobility._sumo import binary, installed_versions, version_problem


def test_binaries_come_from_the_wheel_without_sumo_home() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SUMO_HOME"}
    out = subprocess.run([str(binary("sumo")), "--version"], capture_output=True, text=True, env=env, check=True)
    assert f"SUMO sumo {installed_versions()['eclipse-sumo']}" in out.stdout.replace("Eclipse SUMO", "SUMO")


def test_installed_versions_agree() -> None:
    assert version_problem() is None
    import libsumo

    assert libsumo.getVersion()[1].endswith(installed_versions()["libsumo"])


def test_mismatch_is_explained_with_the_fix() -> None:
    msg = version_problem({"eclipse-sumo": "1.28.0", "libsumo": "1.27.1", "traci": "1.28.0", "sumolib": "1.28.0"})
    assert msg is not None
    assert "libsumo==1.27.1" in msg and "pip install eclipse-sumo==1.28.0 libsumo==1.28.0 traci==1.28.0 sumolib==1.28.0" in msg
    msg = version_problem({"eclipse-sumo": "1.28.0", "libsumo": None, "traci": "1.28.0", "sumolib": "1.28.0"})
    assert msg is not None and "not installed: libsumo" in msg
