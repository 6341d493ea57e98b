"""Running SUMO: a context-managed session, libsumo by default, traci on request.

>>> from mobility import load_scenario, Simulation
>>> sc = load_scenario("scenarios/signal_control/grid3x3.yaml")          # doctest: +SKIP
>>> with Simulation(sc, seed=1) as sim:                                    # doctest: +SKIP
...     sim.run()
>>> ds = sim.results()                                                     # doctest: +SKIP

Rules the session keeps:

- **one libsumo simulation per process** (libsumo is a process-wide singleton): a second one raises a
  clear error; run parallel simulations in separate processes, or use ``backend="traci"``;
- **always closed**, even after an exception, so a notebook cell can simply be re-run;
- **explicit seed**, passed as ``--seed`` and recorded in the results;
- **data from SUMO's own output files** (edgeData, tripinfo, summary, statistics, signal switches),
  never from per-object polling; callers that need live values use TraCI subscriptions on
  :attr:`Simulation.api`;
- SUMO's error text is carried in :class:`~mobility.SimulationError`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from ._errors import InputError, SimulationError
from ._io import session_tempdir
from ._sumoxml import rebase_outputs
from ._sumo import FILES, binary, require_consistent_versions, sumo_error_text
from .demand import write_routes, write_zones
from .load import load_network
from .network import RoadNetwork
from .provenance import command_line
from .scenario import ODDemand, RouteFileDemand, Scenario, writes_file

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Simulation", "run_scenario", "sumo_args"]

Backend = Literal["libsumo", "traci"]
ProgressCallback = Callable[[float, float], None]

#: File names inside a run's working folder.


@contextlib.contextmanager
def _capture_stderr(path: Path) -> Iterator[Path]:
    """Send this process's stderr (file descriptor 2, where SUMO's C++ code writes) to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as f:
            os.dup2(f.fileno(), 2)
            try:
                yield path
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _outputs_additional(scenario: Scenario, workdir: Path) -> str:
    o = scenario.outputs
    rows = []
    if o.edge_data:
        rows.append(f'  <edgeData id="mobility_edges" period="{o.interval_s:g}" begin="{scenario.begin_s:g}" '
                    f'file="{workdir / FILES["edges"]}" excludeEmpty="false" withInternal="false"/>')
    if o.signals:
        rows.append(f'  <timedEvent type="SaveTLSSwitchStates" dest="{workdir / FILES["signals"]}"/>')
    return "<additional>\n" + "\n".join(rows) + "\n</additional>\n"


def sumo_args(scenario: Scenario, workdir: str | Path, *, seed: int, net_file: Path | None = None,
              additional_files: list[Path] | None = None) -> list[str]:
    """SUMO command-line options (without the binary) for ``scenario``, with outputs in ``workdir``.

    The demand and output-definition files must already exist in ``workdir`` (see :class:`Simulation`).

    Parameters
    ----------
    scenario : Scenario
        The scenario to run.
    workdir : str or Path
        Folder holding the run's demand and output-definition files; outputs are written there.
    seed : int
        SUMO's random seed.
    net_file : Path, optional
        Network to use instead of the scenario's.
    additional_files : list of Path, optional
        Replace the scenario's additional files (the copies whose outputs are written in ``workdir``).

    Returns
    -------
    list of str
        SUMO options, without the binary.
    """
    w = Path(workdir)
    s = scenario
    routes = [str(w / FILES["routes"])]
    if isinstance(s.demand, RouteFileDemand):
        routes = [str(p) for p in s.demand.files] + routes
    zones = [str(w / FILES["zones"])] if isinstance(s.demand, ODDemand) and s.demand.zones else []
    own = s.additional_files if additional_files is None else additional_files
    adds = zones + [str(p) for p in own] + [str(w / FILES["outputs"])]
    args = [
        "-n", str(net_file or s.network),
        "-r", ",".join(routes),
        "-a", ",".join(adds),
        "--begin", f"{s.begin_s:g}",
        "--end", f"{s.end_s:g}",
        "--step-length", f"{s.step_length_s:g}",
        "--seed", str(int(seed)),
        "--time-to-teleport", f"{s.sumo.time_to_teleport_s:g}",
        "--collision.action", s.sumo.collision_action,
        "--statistic-output", str(w / FILES["statistics"]),
        "--summary-output", str(w / FILES["summary"]),
        "--summary-output.period", f"{s.outputs.summary_period_s:g}",
        "--error-log", str(w / FILES["errors"]),
        "--no-step-log", "true",
        "--duration-log.disable", "true",
    ]
    if not s.sumo.warnings:
        args += ["--no-warnings", "true"]
    if s.sumo.teleport_remove:
        args += ["--time-to-teleport.remove", "true"]
    if s.outputs.trips:
        args += ["--tripinfo-output", str(w / FILES["trips"]), "--tripinfo-output.write-unfinished", "true",
                 "--tripinfo-output.write-undeparted", "true"]
    return args + _in_run_folder(list(s.sumo.extra_args), w)


def _in_run_folder(extra: list[str], w: Path) -> list[str]:
    """``extra_args`` with the files SUMO writes placed in the run's folder (the spec allows relative names only)."""
    out = list(extra)
    for i, arg in enumerate(out):
        name, eq, value = arg.partition("=")
        if not name.startswith("-") or not writes_file(name):
            continue  # sub-options such as --vehroute-output.exit-times take values, not files
        if eq:
            out[i] = f"{name}={w / value}"
        elif i + 1 < len(out) and not out[i + 1].startswith("-"):
            out[i + 1] = str(w / out[i + 1])
    return out


class Simulation:
    """A SUMO session for one scenario, used as a context manager.

    Parameters
    ----------
    scenario : Scenario
        What to simulate.
    seed : int, optional
        Overrides ``scenario.seed`` (random demand follows unless it has its own seed).
    backend : {"libsumo", "traci"}
        libsumo runs SUMO inside this process (fastest; one simulation per process); traci talks to a
        SUMO subprocess over a socket (needed for ``gui=True`` or several simultaneous simulations).
    gui : bool
        Run ``sumo-gui`` (traci backend only).
    workdir : path, optional
        Folder for SUMO's input and output files. When omitted, a temporary folder removed by
        :meth:`cleanup` or, at the latest, when the interpreter exits. An existing folder is used as it is.
    network : RoadNetwork, optional
        The scenario's network, if already loaded (saves reading it again).

    Attributes
    ----------
    api : module or traci.Connection
        The live TraCI API (``libsumo`` or a ``traci`` connection) for subscriptions and control.
    """

    _libsumo_owner: ClassVar[Simulation | None] = None
    _labels: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        backend: Backend = "libsumo",
        gui: bool = False,
        workdir: str | Path | None = None,
        network: RoadNetwork | None = None,
    ) -> None:
        if backend not in ("libsumo", "traci"):
            raise InputError(f"backend must be 'libsumo' or 'traci', got {backend!r}")
        if gui and backend != "traci":
            raise InputError("gui=True needs backend='traci' (libsumo has no GUI)")
        self.scenario = scenario.with_seed(seed) if seed is not None else scenario
        self.seed = self.scenario.seed
        self.backend: Backend = backend
        self.gui = gui
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else session_tempdir("mobility-run-")
        if not self.workdir.is_dir():
            raise InputError(f"workdir {self.workdir} does not exist; create it or pass workdir=None for a temporary one")
        self._network = network
        self.api: Any = None
        self._label: str | None = None
        self.closed = False
        self.started = False
        self.demand_report: dict[str, Any] = {}  # random demand: trips, draws, rejected share
        self.sumo_version = ""

    # ---- life cycle --------------------------------------------------------------------------
    @property
    def network(self) -> RoadNetwork:
        """The scenario's road network (read on first use)."""
        if self._network is None:
            self._network = load_network(self.scenario.network)
        return self._network

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def start(self) -> None:
        """Write the demand and output definitions, then start SUMO."""
        if self.started:
            raise SimulationError("this Simulation has already been started; create a new one to run again")
        self.sumo_version = require_consistent_versions()
        if not Path(self.scenario.network).is_file():
            raise InputError(f"network file not found: {self.scenario.network}")
        net = self.network
        write_routes(self.scenario, net, self.workdir / FILES["routes"], report=self.demand_report)
        write_zones(self.scenario, self.workdir / FILES["zones"])
        (self.workdir / FILES["outputs"]).write_text(_outputs_additional(self.scenario, self.workdir.resolve()))
        for name in ("edges", "trips", "summary", "statistics", "signals", "errors", "stderr"):
            (self.workdir / FILES[name]).unlink(missing_ok=True)
        # additional files that write outputs (detectors, meandata) run as copies writing into the run's folder
        adds = []
        for f in self.scenario.additional_files:
            rebased = rebase_outputs(f, self.workdir)
            adds.append(rebased[0].resolve() if rebased else Path(f))
        args = sumo_args(self.scenario, self.workdir.resolve(), seed=self.seed, net_file=net.net_file,
                         additional_files=adds)
        self.started = True
        try:
            if self.backend == "libsumo":
                self._start_libsumo(args)
            else:
                self._start_traci(args)
        except SimulationError:
            self._release()
            raise
        except Exception as exc:
            self._release()
            raise SimulationError(self._error_message("SUMO failed to start", exc)) from None

    def _start_libsumo(self, args: list[str]) -> None:
        owner = Simulation._libsumo_owner
        if owner is not None and not owner.closed:
            raise SimulationError(
                "a libsumo simulation is already running in this process (libsumo allows one per process); "
                "close it first (use `with Simulation(...)`), run this one in another process, or pass backend='traci'"
            )
        import libsumo

        Simulation._libsumo_owner = self
        # SUMO reports loading errors on the process's stderr before its error log is flushed:
        # capture them so they can be put in the exception.
        with _capture_stderr(self.workdir / FILES["stderr"]) as captured:
            libsumo.start([str(binary("sumo")), *args])
        if captured.exists() and self.scenario.sumo.warnings:
            sys.stderr.write(captured.read_text(errors="replace"))
        self.api = libsumo

    def _start_traci(self, args: list[str]) -> None:
        import traci

        self._label = f"mobility-{os.getpid()}-{next(Simulation._labels)}"
        exe = binary("sumo-gui" if self.gui else "sumo")
        # the SUMO subprocess inherits stderr: keep its messages in the run folder
        with _capture_stderr(self.workdir / FILES["stderr"]), open(os.devnull, "w") as devnull:
            traci.start([str(exe), *args], label=self._label, stdout=devnull)
        self.api = traci.getConnection(self._label)

    @property
    def time(self) -> float:
        """Current simulation time, s."""
        return float(self.api.simulation.getTime())

    def step(self, until: float | None = None) -> float:
        """Advance one step, or up to time ``until`` (s); return the new time."""
        if self.api is None or self.closed:
            raise SimulationError("the simulation is not running; use it inside `with Simulation(...)`")
        try:
            self.api.simulationStep(0.0 if until is None else float(until))
        except Exception as exc:
            raise SimulationError(self._error_message(f"SUMO failed at t={self._safe_time()}", exc)) from None
        return self.time

    def run(self, *, progress: ProgressCallback | None = None, chunk_s: float | None = None) -> None:
        """Run to the scenario's end time, calling ``progress(now_s, end_s)`` after every chunk.

        SUMO advances ``chunk_s`` simulated seconds per call (default: 1% of the window, at least
        one step), so Python adds almost nothing to SUMO's own run time.
        """
        end = self.scenario.end_s
        chunk = chunk_s or max(self.scenario.step_length_s, self.scenario.duration_s / 100.0)
        now = self.time
        while now < end - 1e-9:
            now = self.step(min(now + chunk, end))
            if progress is not None:
                progress(now, end)

    def close(self) -> None:
        """Close SUMO (which flushes its output files). Safe to call more than once."""
        if self.closed or not self.started:
            self.closed = True
            return
        self.closed = True
        error: Exception | None = None
        try:
            if self.api is not None:
                self.api.close()
        except Exception as exc:  # a crashed SUMO cannot be closed cleanly; report it
            error = exc
        finally:
            self._release()
        if error is not None and "connection" not in str(error).lower():
            raise SimulationError(self._error_message("SUMO failed while closing", error)) from None

    def _release(self) -> None:
        self.closed = True
        if Simulation._libsumo_owner is self:
            Simulation._libsumo_owner = None
        self.api = None

    def cleanup(self) -> None:
        """Remove the temporary working folder (only one this session created)."""
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- errors and results ------------------------------------------------------------------
    def _safe_time(self) -> str:
        try:
            return f"{self.time:g}s"
        except Exception:
            return "?"

    def _sumo_text(self) -> str:
        return " | ".join(
            t for t in (sumo_error_text(p.read_text(errors="replace"))
                        for p in (self.workdir / FILES["errors"], self.workdir / FILES["stderr"]) if p.is_file()) if t)

    def _error_message(self, what: str, exc: BaseException) -> str:
        sumo_text = self._sumo_text()
        deadline = time.monotonic() + 2.0
        while not sumo_text and self.backend == "traci" and time.monotonic() < deadline:
            time.sleep(0.05)  # a SUMO subprocess may still be writing its last words
            sumo_text = self._sumo_text()
        own = str(exc).strip()
        return f"{what}: {sumo_text or own or type(exc).__name__}" + (
            f" [scenario {self.scenario.name}"
            + (f" ({self.scenario.source_file})" if self.scenario.source_file else "")
            + f", network {self.scenario.network}, seed {self.seed}, SUMO's files in {self.workdir}]")

    def results(self, *, command: str | None = None) -> xr.Dataset:
        """The run's results as an :class:`xarray.Dataset` (after :meth:`close`)."""
        if not self.closed:
            raise SimulationError("results are available after the simulation has closed (leave the `with` block)")
        from .results import dataset_from_outputs

        ds = dataset_from_outputs(
            self.workdir, self.scenario, self.network, backend=self.backend,
            command=command if command is not None else command_line(),
        )
        rep = self.demand_report
        if rep:  # random demand: how many draws it took to find trips the vehicles' classes can drive
            ds.attrs.update(demand_trips=int(rep["trips"]), demand_draws=int(rep["draws"]),
                            demand_rejected_share=float(rep["rejected_share"]))
        return ds


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    backend: Backend = "libsumo",
    output: str | Path | None = None,
    workdir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    network: RoadNetwork | None = None,
    command: str | None = None,
) -> xr.Dataset:
    """Run ``scenario`` in SUMO and return its results Dataset (saved to ``output`` when given).

    Parameters
    ----------
    scenario : Scenario
    seed : int, optional
        Overrides the scenario's seed.
    backend : {"libsumo", "traci"}
    output : path, optional
        netCDF file to write (atomically) with the results.
    workdir : path, optional
        Keep SUMO's files there; a temporary folder (removed afterwards) when omitted.
    progress : callable, optional
        ``progress(now_s, end_s)`` after each chunk of simulated time.
    network : RoadNetwork, optional
        The scenario's network, if already loaded (saves reading it again).
    command : str, optional
        The command line recorded in the results' provenance (default: this process's).

    Returns
    -------
    xarray.Dataset
        The run's results (edge data, trips, network-wide counts, KPIs), stamped with provenance.
    """
    sim = Simulation(scenario, seed=seed, backend=backend, workdir=workdir, network=network)
    try:
        with sim:
            sim.run(progress=progress)
        ds = sim.results(command=command)
        if output is not None:
            from .results import save_results

            save_results(ds, output)
            if scenario.outputs.keep_sumo_files:
                raw = Path(output).with_suffix(".sumo")
                if raw.exists():
                    shutil.rmtree(raw)
                shutil.copytree(sim.workdir, raw)
        return ds
    finally:
        sim.cleanup()
