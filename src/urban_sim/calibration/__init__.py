"""Calibration against census observations (method of simulated moments, ABC) and validation."""
