"""Exception hierarchy of urban_sim.

Every error a user can cause by a bad file or value is a :class:`UrbanSimError`; the command
line turns it into one line on stderr and exit status 2. Anything else is an internal error
(exit status 1).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class WorkerDied(ExperimentError):
    """A worker process died during a run (killed, most often by the out-of-memory killer).

    Not the user's mistake and not a bug: the command line says so in one line and exits with
    status 3; finished runs are kept and the same command resumes. ``lost`` holds the indices
    of the items whose runs were unfinished.
    """

    def __init__(self, message: str, lost: tuple[int, ...] | list[int] = ()) -> None:
        super().__init__(message)
        self.lost = list(lost)


def nearest(word: str, options: Iterable[str]) -> str | None:
    """Closest valid name to a misspelled one (difflib ratio ≥ 0.6), or None."""
    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid name, or ``""``: the one way every
    error message suggests a key, parameter, programme or output name."""
    hint = nearest(word, options)
    return f" (did you mean '{hint}'?)" if hint else ""
