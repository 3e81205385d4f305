"""Pydantic schemas of scenario files.

A scenario is a YAML (or TOML) file; every key is checked and unknown keys are errors
(``extra="forbid"``). Policy settings come twice: ``history`` holds the settings in force before
``policy.start_year`` (historical trends) and ``policy`` those from that year on (the plan was
issued in December 2024, so the default start year is 2025). In ``baseline.yaml`` both are equal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from urban_sim.vocabulary import CENSUS_YEARS, TASK_AREAS  # noqa: F401 (re-exported)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class TaskAreaShares(_Strict):
    """Share of total investment going to each task area; must sum to 1 (± 1e-6)."""

    industry: float = Field(ge=0, le=1)
    infrastructure: float = Field(ge=0, le=1)
    ecology: float = Field(ge=0, le=1)
    public_services: float = Field(ge=0, le=1)
    living_environment: float = Field(ge=0, le=1)
    heritage: float = Field(ge=0, le=1)
    governance: float = Field(ge=0, le=1)
    institutions: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> "TaskAreaShares":
        total = sum(getattr(self, a) for a in TASK_AREAS)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"task-area shares must sum to 1, got {total:.6g}")
        return self


class Investment(_Strict):
    """Public investment in the eight task areas.

    ``total_million_yuan`` is the annual amount in the first year the block applies (million
    yuan, 2020 prices); it grows by ``growth_rate_per_year`` and is scaled by the energy-price
    uncertainty (fiscal revenue of a coal county).
    """

    total_million_yuan: float = Field(ge=0, le=100_000)
    growth_rate_per_year: float = Field(ge=-0.5, le=0.5)
    task_area_shares: TaskAreaShares
    programme_weights: dict[str, float] = Field(default_factory=dict)


class Levers(_Strict):
    """Policy levers of model.md §7, each in [0, 1] (0 = not used, 1 = strongest setting)."""

    hukou_service_access: float = Field(ge=0, le=1)
    housing_support_share: float = Field(ge=0, le=1)
    land_reform: float = Field(ge=0, le=1)
    vocational_training_intensity: float = Field(ge=0, le=1)
    school_expansion_priority: float = Field(ge=0, le=1)
    tourism_promotion: float = Field(ge=0, le=1)


class PolicyBlock(_Strict):
    """Investment and levers in force over a period."""

    investment: Investment
    levers: Levers


class Policy(PolicyBlock):
    """Investment and levers in force from ``start_year`` on."""

    start_year: int = Field(ge=2010, le=2050)


class Uncertainties(_Strict):
    """Factors outside the county's control (multipliers are 1 at the central value).

    They act from ``policy.start_year`` on; before it every run follows
    :data:`HISTORICAL_UNCERTAINTIES` (see :meth:`Scenario.uncertainties_at`).
    """

    outside_wage_growth_rate_per_year: float = Field(ge=-0.05, le=0.15)
    local_wage_growth_rate_per_year: float = Field(ge=-0.05, le=0.15)
    energy_price_index: float = Field(gt=0, le=3)
    fertility_multiplier: float = Field(gt=0, le=3)
    mortality_multiplier: float = Field(gt=0, le=3)
    construction_cost_multiplier: float = Field(gt=0, le=3)


HISTORICAL_UNCERTAINTIES = Uncertainties(
    outside_wage_growth_rate_per_year=0.05, local_wage_growth_rate_per_year=0.05,
    energy_price_index=1.0, fertility_multiplier=1.0, mortality_multiplier=1.0,
    construction_cost_multiplier=1.0)
"""Settings of the years before ``policy.start_year`` (2010-2024 for a default scenario): the
central values of ``configs/baseline.yaml``. Wage growth 5 % a year is an assumption (migrant
and local wages grew about 5-7 % a year nominal in 2015-2024, national migrant-worker
monitoring surveys); the indices and multipliers are 1 by definition of the central value."""


class Scenario(_Strict):
    """A complete, resolved scenario.

    Raises
    ------
    pydantic.ValidationError
        On any unknown key or out-of-range value; :func:`urban_sim.config.load_scenario`
        turns it into a :class:`~urban_sim.errors.ConfigError` naming file, key and range.
    """

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    extends: str | None = None
    start_year: Literal[2010, 2020] = 2020
    end_year: int = Field(default=2035, ge=2011, le=2060)
    seed: int = Field(default=20241204, ge=0, le=2**63 - 1)
    scale: float = Field(default=1.0, gt=0, le=1)
    data_dir: str | None = None
    history: PolicyBlock
    policy: Policy
    uncertainties: Uncertainties
    parameters: dict[str, float] = Field(default_factory=dict)
    parameters_from: Literal["table", "posterior"] = "table"
    """``table``: behavioural constants from ``parameters.csv`` (the calibrated values);
    ``posterior``: each replicate draws one particle of the data folder's ``posterior.csv``
    (parameter uncertainty on top of seed noise). ``parameters`` given here win over both."""
    _source: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _years(self) -> "Scenario":
        if self.end_year <= self.start_year:
            raise ValueError(
                f"end_year ({self.end_year}) must be after start_year ({self.start_year})"
            )
        return self

    def levers_at(self, year: int) -> PolicyBlock:
        """Return the policy block in force in ``year``."""
        return self.policy if year >= self.policy.start_year else self.history

    def uncertainties_at(self, year: int) -> Uncertainties:
        """Uncertainties in force in ``year``: the scenario's from ``policy.start_year`` on,
        :data:`HISTORICAL_UNCERTAINTIES` before (history is the same in every scenario)."""
        return self.uncertainties if year >= self.policy.start_year else HISTORICAL_UNCERTAINTIES

    def wage_indices(self, year: int, base_year: int) -> tuple[float, float]:
        """Local and outside wage level in ``year`` relative to ``base_year`` (1 there).

        Wages grow at the historical rates until ``policy.start_year`` and at the scenario's
        rates from then on, so a scenario's wage uncertainty never rewrites the past.
        """
        h, u, s = HISTORICAL_UNCERTAINTIES, self.uncertainties, self.policy.start_year

        lo, hi = sorted((base_year, year))
        n_hist = max(0, min(hi, s) - lo)  # years in [lo, hi) before the policy start
        sign = 1 if year >= base_year else -1

        def index(hist: float, rate: float) -> float:
            return ((1 + hist) ** n_hist * (1 + rate) ** (hi - lo - n_hist)) ** sign

        return (index(h.local_wage_growth_rate_per_year, u.local_wage_growth_rate_per_year),
                index(h.outside_wage_growth_rate_per_year, u.outside_wage_growth_rate_per_year))
