"""Person and household tables as numpy columns (struct of arrays).

Persons and households are individual agents, but their state lives in columns so that every
decision is computed column-wise. Rows are never reused: a dead person keeps its row with
``alive = False`` so that indices (household, mother) stay valid for the whole run.
"""

from __future__ import annotations

import numpy as np

from urban_sim.vocabulary import (  # noqa: F401 (re-exported)
    LOC_NAMES, LOC_OUTSIDE, LOC_SEAT, LOC_TOWN, LOC_VILLAGE, SECTORS)


class Table:
    """Growable set of equal-length numpy columns.

    A column is read as an attribute (``persons.age``): a view of its first ``n`` rows, kept
    as an instance attribute and renewed when rows are appended (a plain attribute read,
    ≈ 25 ns, instead of ``__getattr__``'s ≈ 1.2 µs; the model reads columns ≈ 100 times a
    year). Assigning to a column attribute writes into the column.

    Parameters
    ----------
    columns : dict[str, numpy.ndarray]
        Initial columns, all of the same length ``n``.
    """

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns differ in length: {lengths}")
        self.n = lengths.pop()
        self._cols = {k: np.ascontiguousarray(v) for k, v in columns.items()}
        self._cap = self.n
        self._views()

    def _views(self) -> None:
        """The column attributes: views of the first ``n`` rows of the current arrays."""
        d = self.__dict__
        for name, col in self._cols.items():
            d[name] = col[: self.n]

    def __setattr__(self, name: str, value) -> None:
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            cols[name][: self.n] = value
        else:
            object.__setattr__(self, name, value)

    def __getstate__(self) -> dict:
        # the views are not pickled (a copy would not share memory with its column)
        return {k: v for k, v in self.__dict__.items() if k not in self._cols}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._views()

    def __len__(self) -> int:
        return self.n

    def append(self, **values) -> np.ndarray:
        """Append rows; columns not given get zeros. Returns the new row indices.

        The first value is an array whose length is the number of rows; the others are arrays
        of that length or scalars (the same value in every new row), cast to the column's type.
        Only the given columns are written (:meth:`reserve`, then :meth:`extend`).

        Raises
        ------
        KeyError
            If a name is not a column.
        ValueError
            If the arrays differ in length (nothing is written).
        """
        if not values.keys() <= self._cols.keys():  # checked before anything is written
            raise KeyError(f"not columns: {sorted(values.keys() - self._cols.keys())}")
        k, n = len(next(iter(values.values()))), self.n
        if any(np.ndim(v) and len(v) != k for v in values.values()):  # also before writing
            raise ValueError(f"values of {k} rows and of "
                             f"{sorted({len(v) for v in values.values() if np.ndim(v)})} rows")
        cols = self.reserve(k)
        for name, value in values.items():
            cols[name][n : n + k] = value
        return self.extend(k)

    def reserve(self, k: int) -> dict[str, np.ndarray]:
        """Room for ``k`` more rows: the whole column arrays (capacity ≥ ``n + k``; the arrays
        grow by doubling). Rows past ``n`` are zeros (the arrays grow by ``np.zeros`` and no row
        is written before it is appended; rows are never reused): write rows ``n .. n + k − 1``
        of the columns that are not zero, then call :meth:`extend`.

        Parameters
        ----------
        k : int
            Rows to make room for (≥ 0).

        Returns
        -------
        dict[str, numpy.ndarray]
            The table's own column arrays by name, each of length ≥ ``n + k``.
        """
        cols, n = self._cols, self.n
        if n + k > self._cap:
            self._cap = max(2 * self._cap, n + k)
            for name, col in cols.items():
                grown = np.zeros(self._cap, dtype=col.dtype)
                grown[:n] = col[:n]
                cols[name] = grown
        return cols

    def extend(self, k: int) -> np.ndarray:
        """Count ``k`` rows written after :meth:`reserve` as appended.

        Parameters
        ----------
        k : int
            Rows appended (≥ 0; at most what :meth:`reserve` made room for).

        Returns
        -------
        numpy.ndarray of int64, shape (k,)
            Their row indices, ``n .. n + k − 1``.

        Raises
        ------
        ValueError
            If there is no room for ``k`` rows (no :meth:`reserve` before).
        """
        if self.n + k > self._cap:
            raise ValueError(f"extend({k}): room for {self._cap - self.n} rows (reserve first)")
        rows = np.arange(self.n, self.n + k)
        self.n += k
        self._views()
        return rows

    def columns(self) -> dict[str, np.ndarray]:
        """Copies of all columns (for snapshots and tests)."""
        return {k: v[: self.n].copy() for k, v in self._cols.items()}
