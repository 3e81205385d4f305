"""Public-service and infrastructure stocks, demand, congestion and amenity (plain numpy)."""

from urban_sim.services.stocks import GROUP_OF_STOCK, Stocks, amenity_and_congestion

__all__ = ["GROUP_OF_STOCK", "Stocks", "amenity_and_congestion"]
