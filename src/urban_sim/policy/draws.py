"""NumPy's draws of the land phase as compiled code makes them (the same draws, the same
generator state): ``rng.choice(a, k, replace=False)`` (:func:`choice`), the whole phase in one
call (:func:`land_phase`), and the writes of NumPy's draws where the generator is not a PCG64
(:func:`apply`); the compiled passes are :mod:`urban_sim.policy.institution_kernels`'.

NumPy's ``Generator.choice(a, size, replace=False)`` without weights takes, for a population
of at most 10,000 (or a sample of at most a fiftieth of it), Floyd's algorithm: for ``j``
from ``n − k`` to ``n − 1`` a bounded integer in ``[0, j]``, kept if new, else ``j`` itself
(a hash set of the smallest power of two above ``1.2 k`` slots, linear probing), then a
shuffle of the ``k`` picks (for ``i`` from ``k − 1`` down to 1 a bounded integer in
``[0, i]`` swapped with ``i``); else the last ``k`` of a partial shuffle of ``0 … n − 1``
(``i`` from ``n − 1`` down to ``max(n − k, 1)``). Each bounded integer is Lemire's rejection
method on 32-bit draws (``random_bounded_uint64`` of ``distributions.c``), and a PCG64 gives
32-bit draws in pairs: one 64-bit output, its low half now and its high half kept for the
next (``has_uint32``, ``uinteger`` of its state); a uniform is the top 53 bits of a 64-bit
output. The Python path of ``choice`` (``np.prod`` of the size, argument checks, ``np.full``
of the hash set) costs more than the draws at the sizes of the land phase (≈ 13 picks from
≈ 300 candidates at scale 0.003: ≈ 6 µs alone, 20–50 µs inside a run where that code is
cold). The state is read and written in place through views of the generator's memory
(:func:`urban_sim.population.sparse_draws._words` for the 128-bit state and increment, and
the two 32-bit words after the state pointer here), each checked against ``bg.state`` once
per generator; for another bit generator NumPy draws. Tested against ``rng.choice`` on many
states and sizes (``tests/test_policy_phases.py``) and, for the land phase, against its NumPy
rule (``tests/test_kernels_institutions.py``).
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from urban_sim.policy import institution_kernels as ik
from urban_sim.population.sparse_draws import _words


_EXTRA: dict = {}
"""By ``id`` of a bit generator: the generator (kept, so that the ``id`` is not reused) and its
:func:`_extra` view or None."""


def _extra_view(bg) -> np.ndarray:
    """The two uint32 after the state pointer of a PCG64's ``pcg64_state``."""
    address = bg.ctypes.state_address + ctypes.sizeof(ctypes.c_void_p)
    return np.ctypeslib.as_array((ctypes.c_uint32 * 2).from_address(address))


@functools.cache
def _extra_layout() -> bool:
    """Whether ``has_uint32`` and ``uinteger`` sit where :func:`_extra_view` reads them: a
    probe generator's are set to values a fresh generator never has (1, 0xDEADBEEF), read
    through the view, written through it (0, 0x12345678) and read back by ``bg.state``; once
    a process (a fresh generator's (0, 0) would pass any layout)."""
    probe = np.random.PCG64(0)
    if _words(probe) is None:
        return False
    st = probe.state
    probe.state = {**st, "has_uint32": 1, "uinteger": 0xDEADBEEF}
    view = _extra_view(probe)
    if (int(view[0]), int(view[1])) != (1, 0xDEADBEEF):
        return False
    view[:] = (0, 0x12345678)
    back = probe.state
    return (back["has_uint32"], back["uinteger"]) == (0, 0x12345678)


def _extra(bg) -> np.ndarray | None:
    """``has_uint32`` and ``uinteger`` of a PCG64 as two uint32, a view of the generator's
    own ``pcg64_state`` (after its state pointer), where the layout is NumPy's as probed once
    a process (:func:`_extra_layout`) and the view agrees with ``bg.state`` (once per
    generator); None where :func:`~urban_sim.population.sparse_draws._words` gives no view."""
    hit = _EXTRA.get(id(bg))
    if hit is not None and hit[0] is bg:
        return hit[1]
    view = None
    if _words(bg) is not None and _extra_layout():
        view = _extra_view(bg)
        st = bg.state
        if (int(view[0]), int(view[1])) != (st["has_uint32"], st["uinteger"]):
            view = None
    if len(_EXTRA) > 16:
        _EXTRA.clear()
    _EXTRA[id(bg)] = (bg, view)
    return view


def choice(rng: np.random.Generator, a: np.ndarray, k: int) -> np.ndarray:
    """``rng.choice(a, size=k, replace=False)``: the same picks, in the same order, and the
    generator left in the same state.

    Parameters
    ----------
    rng : numpy.random.Generator
    a : numpy.ndarray of intp, shape (n,)
        Population.
    k : int
        Picks, 1 ≤ k ≤ n.

    Returns
    -------
    numpy.ndarray of intp, shape (k,)
    """
    state = pcg64_views(rng)
    if state is not None and 0 < k <= a.shape[0] < 2**32:
        out = np.empty(k, dtype=a.dtype)
        ik._choice_into(*state, a, k, out)
        return out
    return rng.choice(a, size=k, replace=False)


def pcg64_views(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """The views of ``rng``'s PCG64 state that the compiled draws step in place: the 128-bit
    state and increment (four uint64) and ``has_uint32``, ``uinteger`` (two uint32); None for
    another bit generator or a layout that does not match ``bg.state``."""
    bg = rng.bit_generator
    words = _words(bg)
    extra = _extra(bg) if words is not None else None
    return None if extra is None else (words, extra)


def land_phase(state: tuple[np.ndarray, np.ndarray], persons, households, village: int,
               outside: int, seat: int, working_age: tuple[int, int],
               training_age: tuple[int, int], rent_rate: float, home_expected: float,
               hukou_rate: float, expiry: float, train_expected: float) -> None:
    """The land phase in one compiled call: the selections
    (:func:`urban_sim.policy.institution_kernels.selections`), then what
    :func:`urban_sim.policy.institutions.land_and_institutions` does with them with NumPy's
    draws (``rng.random``, ``n_agents``, ``rng.choice``) and :func:`apply`, in the same
    order, with the same draws.

    Parameters
    ----------
    state : tuple of numpy.ndarray
        :func:`pcg64_views` of the model's generator (stepped in place).
    persons, households : urban_sim.population.state.Table
        Written: ``years_at_base``, ``land_rented``, ``homestead_withdrawn``, ``land_tie``,
        ``hukou_urban``, ``trained``.
    village, outside, seat : int
        Location codes.
    working_age, training_age : tuple of int
        Ages (inclusive) of farming members and of training, years.
    rent_rate, hukou_rate, expiry : float
        Probabilities per year of renting out, of a hukou conversion, of a training lapse.
    home_expected, train_expected : float
        Expected homestead withdrawals and training places this year, in agents, in
        [0, 2⁵³).
    """
    P, H = persons, households
    ik._phase(state[0], state[1], P.alive, P.loc, P.age, P.hh, P.trained, H.land_tie,
              H.land_rented, H.homestead_withdrawn, H.base, H.hukou_urban, H.years_at_base,
              village, outside, seat, working_age[0], working_age[1], training_age[0],
              training_age[1], rent_rate, home_expected, hukou_rate, expiry, train_expected)


def apply(persons, households, rent, u_rent, rent_rate, chosen, hukou, u_hukou, hukou_rate,
          was_trained, u_lapse, expiry, untrained, outside, training_age, with_candidates):
    """The writes of the phase's draws and the candidates for training, in one call.

    ``land_rented`` set where ``u_rent < rent_rate`` (rows ``rent``), homestead withdrawn and
    land tie cut for the households ``chosen``, ``hukou_urban`` set where
    ``u_hukou < hukou_rate`` (rows ``hukou``), ``trained`` cleared where ``u_lapse < expiry``
    (rows ``was_trained``: training lapses).

    Parameters
    ----------
    persons, households : urban_sim.population.state.Table
        Written in place (the columns named above).
    rent, chosen, hukou : numpy.ndarray of intp
        Household rows: candidates for renting out land, households withdrawing their
        homestead, candidates for an urban hukou
        (:func:`urban_sim.policy.institution_kernels.selections`; ``chosen`` drawn).
    u_rent, u_hukou, u_lapse : numpy.ndarray of float
        Uniforms of ``rent``, ``hukou`` and ``was_trained``, one a row, drawn before the call.
    rent_rate, hukou_rate, expiry : float
        Probabilities per year of renting out, of a hukou conversion, of a training lapse.
    was_trained, untrained : numpy.ndarray of intp
        Ascending person rows, trained and untrained before this year's lapses.
    outside : int
        Location code outside the county.
    training_age : tuple of int
        Ages of training (inclusive), years.
    with_candidates : bool
        Whether to list the candidates for training (only if places are drawn this year).

    Returns
    -------
    numpy.ndarray of intp
        When ``with_candidates``: ascending union of ``untrained`` and the lapsed persons
        alive, not at ``outside`` and aged within ``training_age`` (inclusive); else empty.
    """
    P, H = persons, households
    return ik._apply(rent, u_rent, rent_rate, H.land_rented, chosen, H.homestead_withdrawn,
                     H.land_tie, hukou, u_hukou, hukou_rate, H.hukou_urban, was_trained,
                     u_lapse, expiry, P.trained, untrained, P.alive, P.loc, P.age, outside,
                     training_age[0], training_age[1], with_candidates)
