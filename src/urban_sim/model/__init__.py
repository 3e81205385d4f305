"""CountyModel: the Mesa model and its annual schedule."""

from urban_sim.model.county import CountyModel, Place

__all__ = ["CountyModel", "Place"]
