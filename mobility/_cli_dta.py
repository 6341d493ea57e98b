"""``mobility dta``: dynamic network loading and dynamic user equilibrium from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ._cli_common import fail, figure_path, save_figure, writable
from ._errors import InputError, MobilityError


def register(app: typer.Typer) -> None:
    """Add the ``dta`` command to ``app``."""

    @app.command("dta")
    def dta_cmd(
        scenario: Annotated[Path, typer.Argument(help="scenario YAML or .sumocfg (OD, route or random demand), or a "
                                                      "TNTP *_net.tntp with --trips")],
        trips: Annotated[Path | None, typer.Option("--trips", help="TNTP *_trips.tntp (veh/h) for a TNTP network")] = None,
        method: Annotated[str, typer.Option(help="due (dynamic user equilibrium) or dnl (one loading)")] = "due",
        gap: Annotated[float, typer.Option(min=1e-6, max=1.0, help="stop at this time-dependent relative gap")] = 0.01,
        max_iter: Annotated[int, typer.Option(min=1, max=10_000, help="most loadings")] = 40,
        dt: Annotated[float, typer.Option(min=0.1, max=60.0, help="time step, s")] = 1.0,
        interval_s: Annotated[float, typer.Option("--interval", min=1.0, max=3600.0, help="output interval, s")] = 60.0,
        horizon_s: Annotated[float | None, typer.Option("--horizon", min=1.0, help="TNTP: departure window, s")] = None,
        output: Annotated[Path | None, typer.Option("--output", "-o", help="results netCDF file")] = None,
        plot: Annotated[Path | None, typer.Option(help="space-time figure of the busiest route (.png/.svg/.pdf)")] = None,
        network_map: Annotated[Path | None, typer.Option("--map", help="the network coloured by density at --at "
                                                              "(.png/.svg/.pdf)")] = None,
        at_s: Annotated[float | None, typer.Option("--at", help="time of --map, s (default: the densest interval)")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Load a scenario's demand on the numba dynamic engine, or iterate to a dynamic user equilibrium; print
        the gap as it falls and the network's totals; write the (time, edge) results."""
        from .dta import demand_from_od, demand_from_scenario, dta
        from .load import load_network
        from .results import save_results

        say = (lambda _m: None) if quiet else (lambda m: typer.echo(m, err=True))
        try:
            writable(output, suffix=".nc", what="results")
            figure_path(plot)
            figure_path(network_map)
            if scenario.name.endswith(".tntp"):
                if trips is None:
                    raise InputError(f"{scenario} is a TNTP network: give its OD matrix with --trips")
                from .tntp import od_from_tntp

                net = load_network(scenario)
                demand = demand_from_od(net, od_from_tntp(trips), horizon_s=horizon_s or 3600.0)
            else:
                if trips is not None:
                    raise InputError("--trips goes with a TNTP network; a scenario carries its own demand")
                from .scenario import load_scenario_with_network

                sc, net = load_scenario_with_network(scenario)
                demand = demand_from_scenario(sc, net)
            ds = dta(net, demand, method=method, gap=gap, max_iter=max_iter, dt=dt, interval_s=interval_s,  # type: ignore[arg-type]
                     progress=lambda it, g, msg: say(msg))
            ds.attrs["command"] = " ".join(["mobility", *sys.argv[1:]])
            if output is not None:
                save_results(ds, output)
            if plot is not None:
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot as plt

                from .plots import plot_space_time

                busiest = int(np.argmax(ds["route_flow_veh"].sum("departure").values))
                fig, _ = plot_space_time(ds, str(ds["route_edges"].values[busiest]).split())
                save_figure(fig, plot)
                plt.close(fig)
            if network_map is not None:
                _draw_map(ds, net, network_map, at_s)
        except MobilityError as exc:
            raise fail(exc) from None
        a = ds.attrs
        state = "converged" if a["converged"] else f"NOT converged (target gap {gap:g})"
        typer.echo(f"{a['network']}: {method} {state}, gap {a['gap_final']:.4f} after {ds.sizes['iteration']} loading(s), "
                   f"{a['seconds']:.2f} s")
        typer.echo(f"demand {a['demand_veh']:.0f} veh, arrived {a['arrived_veh']:.0f}, conservation error "
                   f"{a['conservation_error']:.2e} veh")
        if output is not None:
            typer.echo(f"results: {output}" + (f"   plot: {plot}" if plot else ""))
        if network_map is not None:
            typer.echo(f"map: {network_map}")


def _draw_map(ds: Any, net: Any, path: Path, at_s: float | None) -> None:
    """The network coloured by density in the output interval holding ``at_s`` (default: the densest one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_network

    times = ds["time"].values
    if at_s is None:
        k = int(np.argmax(ds["vehicles"].sum("edge").values))
    else:
        if not times[0] <= at_s <= times[-1] + float(ds.attrs["interval_s"]):
            raise InputError(f"--at {at_s:g} s lies outside the results ({times[0]:g} to "
                             f"{times[-1] + float(ds.attrs['interval_s']):g} s)")
        k = int(np.searchsorted(times, at_s, side="right") - 1)
    fig, ax = plot_network(net, ds["density_veh_km"].isel(time=k), label="density [veh/km]")
    ax.set_title(f"{net.name} at {times[k]:g} s")
    save_figure(fig, path)
    plt.close(fig)
