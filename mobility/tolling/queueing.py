"""Queueing theory for toll booths, and the simulation runs that check SUMO against it.

- :func:`mg1_wait`: Pollaczek-Khinchine mean wait in queue of an M/G/1 queue;
- :func:`mgc_wait`: the Allen-Cunneen approximation for M/G/c (Erlang C wait of M/M/c scaled by
  ``(1 + cv_s^2) / 2``), which is also the pooled-queue limit of a plaza whose drivers pick the shortest
  queue;
- :func:`booth_service`: the service process of a booth as SUMO runs it, measured at saturation: the mean
  headway between departures is the payment time plus a *move-up* time (the next car driving up to the
  service point), which the payment time alone leaves out;
- :func:`validate_single_booth`: simulated mean wait of one MTC booth against M/G/1 across utilisations.

In the comparison a booth's service time is ``S + m`` (payment ``S`` from the plaza's distribution, the
move-up ``m`` measured), so ``rho = lambda (E[S] + m)``, and a vehicle's wait in simulation is its trip
time less its own payment time less the mean trip time of a vehicle that finds the plaza empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from ..seeds import sub_seed
from .plaza import DemandPeriod, PlazaSpec, ServiceTime

__all__ = ["BoothService", "booth_capacity", "booth_service", "mg1_first_service_wait", "mg1_wait", "mgc_wait",
           "validate_multi_booth", "single_booth", "validate_single_booth"]


def mg1_wait(lam: float, es: float, es2: float) -> float:
    """Mean wait in queue of M/G/1 (Pollaczek-Khinchine): ``lam E[S^2] / (2 (1 - rho))``.

    Parameters
    ----------
    lam : float
        Arrival rate, vehicles/s.
    es : float
        Mean service time ``E[S]``, s.
    es2 : float
        Second moment of the service time ``E[S^2]``, s^2.

    Returns
    -------
    float
        Mean wait before service, s; ``inf`` when ``rho = lam E[S] >= 1``.
    """
    rho = lam * es
    if rho >= 1:
        return math.inf
    return lam * es2 / (2.0 * (1.0 - rho))


def mg1_first_service_wait(lam: float, es: float, es2: float, es0: float, es02: float) -> float:
    """Mean wait of M/G/1 with exceptional first service (Welch 1964), s.

    A customer who finds the server idle is served in ``S0`` (moments ``es0``, ``es02``), the others in ``S``
    (``es``, ``es2``): ``lam E[S^2] / (2 (1 - rho)) + lam (E[S0^2] - E[S^2]) / (2 (1 - rho + lam E[S0]))``
    with ``rho = lam E[S]``. At a toll booth ``S0`` is the payment alone (the car drives up to an empty booth)
    and ``S`` the payment plus the move-up behind the car ahead. ``S0 = S`` gives Pollaczek-Khinchine.

    Parameters
    ----------
    lam : float
        Arrival rate, vehicles/s.
    es, es2 : float
        Mean (s) and second moment (s^2) of the ordinary service ``S``.
    es0, es02 : float
        Mean (s) and second moment (s^2) of the first service ``S0``.

    Returns
    -------
    float
        Mean wait before service, s; ``inf`` when ``lam E[S] >= 1``.
    """
    rho = lam * es
    if rho >= 1:
        return math.inf
    return lam * es2 / (2.0 * (1.0 - rho)) + lam * (es02 - es2) / (2.0 * (1.0 - rho + lam * es0))


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load ``a = lam E[S]`` (erlangs)."""
    if a >= c:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    top = term * a / c * c / (c - a)
    return top / (total + top)


def mgc_wait(lam: float, es: float, es2: float, c: int) -> float:
    """Mean wait in queue of M/G/c by Allen-Cunneen: ``C(c, a) E[S] / (c - a) * (1 + cv^2) / 2``.

    Parameters
    ----------
    lam : float
        Arrival rate, vehicles/s.
    es, es2 : float
        Mean (s) and second moment (s^2) of the service time.
    c : int
        Servers (booths), at least 1.

    Returns
    -------
    float
        Mean wait before service, s; ``inf`` when the offered load ``a = lam E[S]`` reaches ``c``.
    """
    if c < 1:
        raise InputError(f"mgc_wait: c must be >= 1, got {c}")
    a = lam * es
    if a >= c:
        return math.inf
    cv2 = es2 / es**2 - 1.0
    return erlang_c(c, a) * es / (c - a) * (1.0 + cv2) / 2.0


def single_booth(service: ServiceTime, flow_veh_h: float, duration_s: float, **geometry: Any) -> PlazaSpec:
    """A one-lane plaza with a single MTC booth and untagged Poisson arrivals."""
    return PlazaSpec(name="single_booth", booths=("mtc",), approach_lanes=1, departure_lanes=1, etc_penetration=0.0,
                     mtc_service=service, demand=(DemandPeriod(begin_s=0, end_s=duration_s, flow_veh_h=flow_veh_h),),
                     **geometry)


@dataclass(frozen=True)
class BoothService:
    """A booth's service process measured in SUMO.

    Attributes
    ----------
    payment_mean_s : mean payment (stop) time
    move_up_s : mean time from the end of one car's payment to the start of the next one's, when the
        next car was queued behind it
    headway_s : mean time between departures at saturation (= 3600 / capacity)
    capacity_veh_h : saturation throughput of the booth
    to_booth_s : trip time from insertion to the start of payment of a car that finds the plaza empty
    """

    payment_mean_s: float
    move_up_s: float
    headway_s: float
    capacity_veh_h: float
    to_booth_s: float


def booth_service(service: ServiceTime, *, seed: int = 1, duration_s: float = 1800.0, sigma: float = 0.0) -> BoothService:
    """Measure one MTC booth in SUMO: saturate it (arrivals at twice its capacity) and time the payment
    stops; and the trip time to the booth of cars that find it empty (one car every 2 minutes).

    Parameters
    ----------
    service : ServiceTime
        The payment time distribution.
    seed : int
        SUMO seed.
    duration_s : float
        Length of the saturated run, s.
    sigma : float
        Driver imperfection (SUMO's Krauss ``sigma``, 0..1).

    Returns
    -------
    BoothService
        Payment mean, move-up time, headway, capacity (veh/h) and the free trip time to the booth.
    """
    from .simulate import run_plaza

    sat = single_booth(service, 2.0 * 3600.0 / (service.mean_s + 3.0), duration_s)
    ds = run_plaza(sat, seed=seed, sigma=sigma, speed_dev=0.0, drain_s=600.0)
    start, end = ds["trip_pay_start_s"].values, ds["trip_pay_end_s"].values
    ok = ~np.isnan(start) & ~np.isnan(end)
    order = np.argsort(start[ok])
    st, en = start[ok][order], end[ok][order]
    window = (st >= 0.25 * duration_s) & (st <= 0.9 * duration_s)  # the queue has built and not yet drained
    gaps = st[1:] - en[:-1]
    move_up = float(np.mean(gaps[window[1:]]))
    headway = float(np.mean(np.diff(en[window])))
    pay = float(np.mean((en - st)[window]))
    lone = single_booth(service, 30.0, 3600.0).model_copy(
        update={"demand": (DemandPeriod(begin_s=0, end_s=3600.0, flow_veh_h=30.0),)})
    fr = run_plaza(lone, seed=sub_seed(seed, "tolling", "free-flow booth"), sigma=sigma, speed_dev=0.0)
    to_booth = fr["trip_pay_start_s"].values - fr["trip_depart"].values
    return BoothService(payment_mean_s=pay, move_up_s=move_up, headway_s=headway, capacity_veh_h=3600.0 / headway,
                        to_booth_s=float(np.nanmin(to_booth)))


def booth_capacity(kind: str, *, spec: PlazaSpec | None = None, seed: int = 1, duration_s: float = 1800.0,
                   sigma: float = 0.5) -> float:
    """Saturation throughput of one booth of ``kind`` (etc or mtc) in SUMO, veh/h.

    The booth is fed above its capacity for ``duration_s``; departures are counted between a quarter of
    the window (the queue has built) and 90 % of it.

    Parameters
    ----------
    kind : ``"etc"`` or ``"mtc"``
        The booth's kind.
    spec : PlazaSpec, optional
        Supplies the ETC speed and payment times (default: :class:`PlazaSpec` defaults).
    seed : int
        SUMO seed.
    duration_s : float
        Length of the saturated run, s.
    sigma : float
        Driver imperfection (SUMO's Krauss ``sigma``, 0..1).

    Returns
    -------
    float
        Departures per hour while saturated, veh/h.
    """
    from .simulate import run_plaza

    if kind not in ("etc", "mtc"):
        raise InputError(f"booth_capacity: kind must be etc or mtc, got {kind!r}")
    base = spec or PlazaSpec(booths=("mixed",))
    one = base.model_copy(update={
        "name": f"{kind}_capacity", "booths": (kind,), "approach_lanes": 1, "departure_lanes": 1,
        "etc_penetration": 1.0 if kind == "etc" else 0.0,
        "demand": (DemandPeriod(begin_s=0, end_s=duration_s, flow_veh_h=2400.0 if kind == "etc" else 900.0),)})
    ds = run_plaza(PlazaSpec.model_validate(one.model_dump()), seed=seed, sigma=sigma, drain_s=300.0)
    e = np.sort(ds["trip_booth_exit_s"].values)
    e = e[(e >= 0.25 * duration_s) & (e <= 0.9 * duration_s)]
    if e.size < 3:
        raise InputError(f"booth_capacity: too few departures from the {kind} booth to measure")
    return float((e.size - 1) / (e[-1] - e[0]) * 3600.0)


def validate_single_booth(service: ServiceTime, rhos: list[float], *, seeds: list[int], duration_s: float = 7200.0,
                          sigma: float = 0.0, measured: BoothService | None = None) -> list[dict[str, float]]:
    """Simulated mean wait at one MTC booth against M/G/1, per utilisation (mean over ``seeds``).

    Parameters
    ----------
    service : ServiceTime
        The payment time distribution.
    rhos : list of float
        Utilisations to test (arrival rate times the mean service with the move-up), each below 1.
    seeds : list of int
        SUMO seeds; the simulated delay is their mean.
    duration_s : float
        Length of each run, s.
    sigma : float
        Driver imperfection (SUMO's Krauss ``sigma``, 0..1).
    measured : BoothService, optional
        The booth's measured service (default: measured now by :func:`booth_service`).

    Returns
    -------
    list of dict
        Per utilisation: ``rho``, ``flow_veh_h``, ``sim_delay_s`` (and its sd over seeds), ``mg1_delay_s`` (the
        exceptional-first-service model, s), ``rel_error`` and the two plain Pollaczek-Khinchine variants.
    """
    from .simulate import run_plaza

    bs = measured or booth_service(service, sigma=sigma)
    m = bs.move_up_s
    es0, es02 = service.mean_s, service.second_moment  # a car that finds the booth empty pays only
    es, es2 = es0 + m, service.second_moment + 2 * m * es0 + m * m  # a queued one moves up first
    rows = []
    for rho in rhos:
        lam = rho / es
        waits = []
        for s in seeds:
            ds = run_plaza(single_booth(service, lam * 3600.0, duration_s), seed=s, sigma=sigma, speed_dev=0.0)
            w = ds["trip_pay_start_s"].values - ds["trip_depart"].values - bs.to_booth_s
            waits.append(float(np.nanmean(w)))
        sim = float(np.mean(waits))
        wq = mg1_first_service_wait(lam, es, es2, es0, es02)
        p0 = (1.0 - rho) / (1.0 - rho + lam * es0)  # share of cars that find the booth empty
        theory = wq + m * (1.0 - p0)  # to the start of payment: queued cars move up first
        rows.append({"rho": rho, "flow_veh_h": lam * 3600.0, "sim_delay_s": sim, "sim_delay_sd_s": float(np.std(waits)),
                     "mg1_delay_s": theory, "rel_error": sim / theory - 1.0 if theory > 0 else math.nan,
                     "pk_service_with_move_up_s": mg1_wait(lam, es, es2) + m,
                     "pk_payment_only_s": mg1_wait(lam, es0, es02)})
    return rows


def validate_multi_booth(service: ServiceTime, c: int, rhos: list[float], *, seeds: list[int], duration_s: float = 7200.0,
                         sigma: float = 0.0, measured: BoothService | None = None) -> list[dict[str, float]]:
    """A plaza of ``c`` MTC booths (untagged traffic choosing the shortest queue) against M/G/c.

    Theory: Allen-Cunneen with the booth service ``S + m`` and, as for one booth, the move-up ``m`` added for
    the cars that queue (probability Erlang C). Drivers who join the shortest of ``c`` queues are not a single
    pooled queue (a car can wait at its booth while another booth falls idle), and a car arriving just
    behind one leaving the booth is slowed without queueing: both add delay the pooled model does not have.

    Parameters
    ----------
    service : ServiceTime
        The payment time distribution.
    c : int
        Booths.
    rhos : list of float
        Utilisations per booth to test, each below 1.
    seeds : list of int
        SUMO seeds; the simulated delay is their mean.
    duration_s : float
        Length of each run, s.
    sigma : float
        Driver imperfection (SUMO's Krauss ``sigma``, 0..1).
    measured : BoothService, optional
        The booth's measured service (default: measured now by :func:`booth_service`).

    Returns
    -------
    list of dict
        Per utilisation: ``rho``, ``booths``, ``flow_veh_h``, ``sim_delay_s`` (and its sd), ``mgc_delay_s`` (s)
        and ``rel_error``.
    """
    from .simulate import run_plaza

    bs = measured or booth_service(service, sigma=sigma)
    m = bs.move_up_s
    es, es2 = service.mean_s + m, service.second_moment + 2 * m * service.mean_s + m * m
    lanes = min(c, 4)

    def plaza(flow: float, dur: float) -> PlazaSpec:
        return PlazaSpec(name=f"mtc{c}", booths=("mtc",) * c, approach_lanes=lanes, departure_lanes=lanes,
                         etc_penetration=0.0, mtc_service=service,
                         demand=(DemandPeriod(begin_s=0, end_s=dur, flow_veh_h=flow),))

    lone = run_plaza(plaza(20.0, 7200.0), seed=99, sigma=sigma, speed_dev=0.0, reach=c)
    free = lone["trip_pay_start_s"].values - lone["trip_depart"].values
    booth_free = {int(k): float(np.nanmin(free[lone["trip_booth"].values == k])) for k in np.unique(lone["trip_booth"].values)}
    rows = []
    for rho in rhos:
        lam = rho * c / es
        waits = []
        for s in seeds:
            ds = run_plaza(plaza(lam * 3600.0, duration_s), seed=s, sigma=sigma, speed_dev=0.0, reach=c)
            b = ds["trip_booth"].values
            base = np.array([booth_free.get(int(k), np.nan) for k in b])
            w = ds["trip_pay_start_s"].values - ds["trip_depart"].values - base
            waits.append(float(np.nanmean(w)))
        sim = float(np.mean(waits))
        a = lam * es
        theory = mgc_wait(lam, es, es2, c) + m * erlang_c(c, a)
        rows.append({"rho": rho, "booths": c, "flow_veh_h": lam * 3600.0, "sim_delay_s": sim,
                     "sim_delay_sd_s": float(np.std(waits)), "mgc_delay_s": theory,
                     "rel_error": sim / theory - 1.0 if theory > 0 else math.nan})
    return rows
