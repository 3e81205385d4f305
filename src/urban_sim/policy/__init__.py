"""The eight task areas: budgets, programmes, projects, levers."""

from urban_sim.policy.government import LEVER_PROGRAMMES, Government, Programmes

__all__ = ["LEVER_PROGRAMMES", "Government", "Programmes"]
