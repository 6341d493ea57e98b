"""One entry to calibration: ``calibrate(scenario, counts)`` for a SUMO scenario (route flows checked in SUMO,
its runs through the executor) or a zone network (OD matrix estimation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import InputError

if TYPE_CHECKING:
    import xarray as xr

    from .counts import Counts

__all__ = ["calibrate"]


def calibrate(scenario: Any, counts: Counts | str | Path | Sequence[str | Path], *, method: str | None = None,
              network: Any = None, holdout: float = 0.0, seed: int | None = None, attribute: str = "entered",
              trips: str | Path | None = None, assignment: str = "gp", iterations: int = 3, alternatives: int = 1,
              regularisation: float = 0.01, workdir: str | Path | None = None, time_limit_s: float | None = None,
              retries: int = 1, progress: Callable[[str], None] | None = None) -> tuple[Any, xr.Dataset]:
    """Calibrate demand to counts.

    Parameters
    ----------
    scenario : Scenario or path
        A SUMO scenario (YAML, ``.sumocfg`` or a loaded Scenario: route flows, checked in SUMO) or a zone network
        (TNTP ``*_net.tntp``: an OD matrix).
    counts : Counts, path or list of paths
        Count files (:func:`~mobility.calibration.read_counts`) or counts already read.
    method : {"routes", "odme"}, optional
        Default: ``routes`` for a SUMO scenario, ``odme`` for a zone network.
    network : RoadNetwork, optional
    holdout : float
        Share of the count locations the fit never sees.
    seed : int, optional
        Seed of the held-out draw (default 0) and, for routes, SUMO's (default: the scenario's).
    attribute : str
        The edge-data attribute that counts vehicles.
    trips : path, optional
        odme: the seed matrix (TNTP trips; default uniform).
    assignment : {"gp", "bfw"}
        odme: the equilibrium assignment.
    iterations, alternatives : int
        routes: SUMO checks, and extra shortest paths per pair.
    regularisation : float
        Pull towards the prior demand.
    workdir : path, optional
        routes: folder of the SUMO runs (run again with the same folder, finished runs are reused).
    time_limit_s : float, s, optional
        routes: hard limit per SUMO run.
    retries : int
        routes: re-runs of a run that crashed or hit the time limit.
    progress : callable, optional

    Returns
    -------
    tuple
        routes: ``(calibrated Scenario, report)``; odme: ``(list of ODMatrix, one per period, report)``. The
        report holds per count the observed and modelled flows, GEH and whether the fit saw it.
    """
    from ..load import load_network
    from .counts import Counts, read_counts

    path = Path(scenario) if isinstance(scenario, str | Path) else None
    zone = path is not None and path.name.endswith(".tntp")
    method = method or ("odme" if zone else "routes")
    if method not in ("routes", "odme"):
        raise InputError(f"method {method!r}: choose routes or odme")
    if method == "odme" and not zone:
        raise InputError(f"method odme works on zone networks (TNTP *_net.tntp); {scenario} is not one. "
                         "Use method routes for a SUMO scenario")
    if method == "routes" and zone:
        raise InputError(f"method routes calibrates a SUMO scenario; for {scenario} use method odme")
    if path is not None and not path.is_file():
        raise InputError(f"{path}: file not found")
    if method == "odme":
        from ..tntp import od_from_tntp
        from .odme import estimate_od, od_matrix

        net = network if network is not None else load_network(path)
        cs = counts if isinstance(counts, Counts) else read_counts(_paths(counts), net, attribute=attribute)
        ds = estimate_od(net, cs, od_from_tntp(trips) if trips else None, method=assignment,
                         regularisation=regularisation, holdout=holdout, holdout_seed=seed or 0, progress=progress)
        return [od_matrix(ds, k) for k in range(ds.sizes["period"])], ds
    from ..scenario import load_scenario, load_scenario_with_network, scenario_network
    from ..sumocfg import scenario_detectors
    from .routes import calibrate_routes

    if path is not None:
        sc, net = (load_scenario(path), network) if network is not None else load_scenario_with_network(path)
    else:
        sc, net = scenario, network if network is not None else scenario_network(scenario)
    # the scenario's own loops define its E1 outputs: the output file can be given alone
    cs = counts if isinstance(counts, Counts) else read_counts(_paths(counts), net, attribute=attribute,
                                                                 definitions=scenario_detectors(sc))
    return calibrate_routes(sc, cs, network=net, holdout=holdout, holdout_seed=seed or 0, seed=seed,
                            iterations=iterations, alternatives=alternatives, regularisation=regularisation,
                            workdir=workdir, time_limit_s=time_limit_s, retries=retries, progress=progress)


def _paths(counts: str | Path | Sequence[str | Path]) -> list[str | Path]:
    return [counts] if isinstance(counts, str | Path) else list(counts)
