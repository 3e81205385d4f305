"""Jobs by place and sector, Harris–Todaro employment chance, incomes."""

from urban_sim.economy.labour import LabourMarket

__all__ = ["LabourMarket"]
