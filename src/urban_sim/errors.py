"""Exception hierarchy of urban_sim.

Every error a user can cause by a bad file or value is a :class:`UrbanSimError`; the command
line turns it into one line on stderr and exit status 2. Anything else is an internal error
(exit status 1).
"""

from __future__ import annotations


class UrbanSimError(Exception):
    """Base class of all user-facing errors (bad input, bad value)."""


class ConfigError(UrbanSimError):
    """A scenario or experiment file is invalid (unknown key, value out of range, bad YAML)."""


class DataError(UrbanSimError):
    """An input data table is missing, unreadable or inconsistent."""


class CalibrationError(UrbanSimError):
    """A calibration specification or its observations cannot be used."""


class ExperimentError(UrbanSimError):
    """An experiment (ensemble, sensitivity design) cannot be run as specified."""
