"""Persons and households: state, synthesis, demography, location choice."""
