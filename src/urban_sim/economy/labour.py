"""Labour market by place and sector with a Harris–Todaro employment chance.

Places are indexed as in :mod:`urban_sim.model.places`: 0 the county seat, 1..K-1 the town
centres of townships 1..K-1, K..2K-1 the village areas of townships 0..K-1 (K = 23 for Lin
County). The job matrix holds wage jobs (non-farm, plus agri-processing); farming absorbs every
village worker who has no wage job.
"""

from __future__ import annotations

import numpy as np

from urban_sim.economy.labour_kernels import assign_sectors, sectors_of, update_and_list, update_jobs
from urban_sim.population.state import LOC_OUTSIDE, SECTORS, Table
from urban_sim.population.vital_kernels import uniforms

S_AGRI, S_IND, S_CONS, S_SERV, S_TOUR, S_PUB = range(len(SECTORS))
FARMING, UNEMPLOYED = len(SECTORS), len(SECTORS) + 1
"""Person sector codes beyond the job sectors: farming own land, unemployed (−1: not working age)."""
_NONE = np.zeros(0)


class LabourMarket:
    """Wage jobs ``jobs`` of shape (n_places, n_sectors) and the employment chance by place.

    Parameters
    ----------
    labour_force : numpy.ndarray, shape (n_places,)
        Working-age residents (persons, full-population scale) at the start.
    residents : numpy.ndarray, shape (n_places,)
        Residents at the start.
    place_type : numpy.ndarray of int, shape (n_places,)
        0 county seat, 1 town centre, 2 village area.
    params : dict
        Uses ``nonfarm_jobs_share_{seat,town,village}``, ``services_jobs_per_resident``.
    tourism_jobs : numpy.ndarray, shape (n_places,), optional
        Tourism jobs at the start (Qikou: more than 5,000 tourism workers in 2023, Xinhua); they
        are part of the place's wage jobs, not added to them.

    Notes
    -----
    Initial jobs are set so that the non-farm employment chance equals the assumed job shares
    (parameters.csv); the sector mix is an assumption: services from population, public 3 % of
    residents in the seat (1 % elsewhere), construction from the background rate, the rest
    industry (seat, towns) or agri-processing (villages).
    """

    def __init__(self, labour_force, residents, place_type, params, tourism_jobs=None) -> None:
        share = np.array(
            [params["nonfarm_jobs_share_seat"], params["nonfarm_jobs_share_town"],
             params["nonfarm_jobs_share_village"]]
        )[place_type]
        total = share * labour_force
        jobs = np.zeros((len(labour_force), len(SECTORS)))
        jobs[:, S_SERV] = params["services_jobs_per_resident"] * residents
        jobs[:, S_PUB] = np.where(place_type == 0, 0.03, 0.01) * residents
        jobs[:, S_CONS] = params["background_construction_jobs_per_1000"] / 1000 * residents
        if tourism_jobs is not None:
            jobs[:, S_TOUR] = tourism_jobs
        rest = np.maximum(total - jobs.sum(axis=1), 0.0)
        jobs[:, S_IND] = np.where(place_type == 2, 0.3, 1.0) * rest
        jobs[:, S_AGRI] = np.where(place_type == 2, 0.7, 0.0) * rest
        self.jobs = jobs
        self.place_type = place_type
        self._fallback = np.where(place_type == 2, FARMING, UNEMPLOYED).astype(np.int8)
        self.chance = np.minimum(1.0, total / np.maximum(labour_force, 1.0))
        self._scratch = (np.empty(jobs.shape), np.empty((3, len(jobs))))  # for year()

    def update(self, residents, direct_new, construction, *, trends, params, tourism_growth,
               seekers=None) -> float:
        """Advance job stocks one year; with ``seekers``, also the employment chance.

        Parameters
        ----------
        residents : numpy.ndarray, shape (n_places,)
        direct_new : numpy.ndarray, shape (n_places, n_sectors)
            Operating jobs of programmes completed this year.
        construction : numpy.ndarray, shape (n_places,)
            Construction jobs of projects under way this year.
        trends : numpy.ndarray, shape (n_sectors,)
            Background growth rate per sector (per year).
        tourism_growth : numpy.ndarray, shape (n_places,)
            Extra growth rate of tourism jobs (promotion lever, tourism capacity).
        seekers : numpy.ndarray, shape (n_places,), optional
            Working-age residents by place (persons): sets :attr:`chance`, the Harris–Todaro
            chance ``p_j = min(1, jobs_j / seekers_j)`` (a place without seekers gets 1: a
            newcomer would find a job).

        Returns
        -------
        float
            Growth of the wage jobs over the year: total after / max(total before, 1) − 1.

        Notes
        -----
        ``J ← J·(1 + trend_s) + direct_new``; services move toward
        ``services_jobs_per_resident × residents`` at ``services_adjustment_rate`` and receive the
        induced multiplier ``μ × direct_new``; construction = background per 1000 residents +
        project construction jobs; never below 0
        (:func:`urban_sim.economy.labour_kernels.update_jobs`, one compiled call).
        """
        n = len(self.jobs)
        before, after = np.empty(n), np.empty(n)
        chance = _NONE if seekers is None else np.empty(n)
        update_jobs(self.jobs, np.asarray(trends, dtype=float), np.asarray(tourism_growth, dtype=float),
                    np.asarray(direct_new, dtype=float), np.asarray(residents, dtype=float),
                    np.asarray(construction, dtype=float), params["services_jobs_per_resident"],
                    params["services_adjustment_rate"], params["induced_jobs_multiplier"],
                    params["background_construction_jobs_per_1000"] / 1000,
                    _NONE if seekers is None else np.asarray(seekers, dtype=float), before, after,
                    chance)
        if seekers is not None:
            self.chance = chance
        return after.sum() / max(before.sum(), 1.0) - 1.0

    def year(self, residents, direct_new, construction, *, trends, params, qikou, tour, seekers,
             persons: Table, township: np.ndarray, place_lut: np.ndarray, K: int,
             working_age: tuple[int, int], boost: float, rng: np.random.Generator) -> float:
        """:meth:`update` (with ``seekers``) and :meth:`assign` in two compiled calls: the same
        jobs, chance, sectors, draws and returned growth (``tests/test_kernels_labour.py``).

        Parameters
        ----------
        residents, direct_new, construction, trends, params, seekers
            As :meth:`update`.
        qikou : numpy.ndarray of bool, shape (n_places,)
            Places of :meth:`update`'s ``tourism_growth``: ``np.where(qikou, tour, 0.0)``.
        tour : float
            Extra growth rate of tourism jobs at the ``qikou`` places.
        persons, township, place_lut, K, working_age, boost, rng
            As :meth:`assign`.

        Returns
        -------
        float
            As :meth:`update`.
        """
        jobs, P = self.jobs, persons
        cum, sums = self._scratch
        if cum.shape != jobs.shape:  # jobs replaced by another shape
            cum, sums = self._scratch = (np.empty(jobs.shape), np.empty((3, len(jobs))))
        if cum.shape[1] != 6:
            raise ValueError(f"jobs have {cum.shape[1]} sectors; the compiled loop is written for 6")
        chance = np.empty(len(jobs))
        workers = update_and_list(
            jobs, trends, qikou, tour, np.asarray(direct_new, dtype=float),
            np.asarray(residents, dtype=float), np.asarray(construction, dtype=float),
            params["services_jobs_per_resident"], params["services_adjustment_rate"],
            params["induced_jobs_multiplier"], params["background_construction_jobs_per_1000"] / 1000,
            np.asarray(seekers, dtype=float), chance, cum, sums, P.sector, P.alive, P.loc, P.age,
            LOC_OUTSIDE, working_age)
        self.chance = chance
        sectors_of(P.sector, workers, uniforms(rng, len(workers)), P.loc, P.hh, P.trained,
                   township, place_lut, K, chance, boost, cum, sums[0], self._fallback)
        return sums[2].sum() / max(sums[1].sum(), 1.0) - 1.0

    def assign(self, persons: Table, township: np.ndarray, place_lut: np.ndarray, K: int,
               working_age: tuple[int, int], boost: float, rng: np.random.Generator) -> None:
        """Employment status of working-age residents, drawn individually, into
        ``persons.sector`` (−1 for everyone else).

        Parameters
        ----------
        persons : urban_sim.population.state.Table
            Uses ``alive``, ``loc``, ``age``, ``hh``, ``trained``; writes ``sector``.
        township : numpy.ndarray, shape (n_households,)
            Township of each household.
        place_lut : numpy.ndarray of int, shape (4 K + 1,)
            Place by ``location × K + township``.
        K : int
            Number of townships.
        working_age : tuple of int
            First and last working age (years, inclusive).
        boost : float
            Vocational training raises the chance by the factor ``1 + boost``.
        rng : numpy.random.Generator
            One uniform per working-age resident, in row order.

        Notes
        -----
        A worker at place ``j`` is employed if ``u < min(1, p_j (1 + boost·trained))``; the
        employed get a sector in proportion to the place's wage jobs (the uniform reused:
        ``u/p`` is uniform on [0, 1) given employment); the others farm (village areas) or
        are unemployed. Sector codes 0..5, ``FARMING``, ``UNEMPLOYED``
        (:func:`urban_sim.economy.labour_kernels.assign_sectors`).
        """
        P = persons
        assign_sectors(P.sector, P.alive, P.loc, P.age, P.hh, P.trained, township, place_lut, K,
                       LOC_OUTSIDE, working_age, self.chance, boost,
                       np.cumsum(self.jobs, axis=1), self._fallback, rng)


def tourism_start(params: dict[str, float], year: int, residents: np.ndarray,
                  qikou: np.ndarray) -> np.ndarray:
    """Tourism jobs by place in the start year, shape (n_places,): ``tourism_jobs_qikou_2023``
    (Xinhua 2023: more than 5,000 tourism workers in Qikou) scaled back or forward with
    ``job_trend_tourism`` and spread over the Qikou centres by residents."""
    q = np.where(qikou, residents, 0.0)
    total = params["tourism_jobs_qikou_2023"] * (1 + params["job_trend_tourism"]) ** (year - 2023)
    return total * q / max(q.sum(), 1e-9)
