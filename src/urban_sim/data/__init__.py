"""Input tables of a county: reading, checks."""

from urban_sim.data.tables import DEFAULT_DATA_DIR, CountyData, load_county, read_csv

__all__ = ["DEFAULT_DATA_DIR", "CountyData", "load_county", "read_csv"]
