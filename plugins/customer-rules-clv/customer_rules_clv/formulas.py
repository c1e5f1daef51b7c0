"""The closed-form predictions of the BG/NBD and Gamma-Gamma models, in numpy.

The plugin fits the models with pymc-marketing and predicts with these
formulas, so that deciding one customer needs neither pymc nor xarray.
Every function broadcasts: the parameters may be arrays of draws (shape
``(draws, 1)``) and the customer values arrays of customers (shape
``(customers,)``). Time is in days.

Notation (Fader, Hardie & Lee 2005, "Counting your customers the easy way";
Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"):

- ``x`` — repeat purchases (orders after the first);
- ``t_x`` — days from the first to the last purchase (recency);
- ``T`` — days from the first purchase to the as-of date (age);
- ``m`` — the customer's mean order value over all ``x + 1`` orders (so
  the Gamma-Gamma model sees ``n = x + 1`` orders averaged, where
  pymc-marketing's examples average the ``x`` repeat orders only);
- ``r, alpha`` — the gamma mixing distribution of purchase rates;
- ``a, b`` — the beta mixing distribution of the drop-out probability;
- ``p, q, v`` — the Gamma-Gamma model of order values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import hyp2f1  # type: ignore[import-untyped]

Array = Any  # a numpy array or a float

#: Days in a month when a horizon in months becomes days (pymc-marketing's "D" factor).
DAYS_PER_MONTH = 30


def _dropout_odds(a: Array, b: Array, x: Array) -> Array:
    """a / (b + x - 1) for repeat buyers, 0 for the others (who cannot have dropped out yet)."""
    return np.where(x > 0, a / (b + np.maximum(x, 1) - 1), 0.0)


def expected_purchases(r: Array, alpha: Array, a: Array, b: Array, x: Array, t_x: Array, T: Array, t: Array) -> Array:
    """E[purchases in the next ``t`` days | x, t_x, T] (BG/NBD, eq. 10 of Fader et al. 2005)."""
    growth = (alpha + T) / (alpha + T + t)
    head = 1 - growth ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    head = head * (a + b + x - 1) / (a - 1)
    alive_odds = 1 + _dropout_odds(a, b, x) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return head / alive_odds


def probability_alive(r: Array, alpha: Array, a: Array, b: Array, x: Array, t_x: Array, T: Array) -> Array:
    """P(the customer has not dropped out | x, t_x, T) (BG/NBD; 1 for a customer without repeat purchases)."""
    return 1 / (1 + _dropout_odds(a, b, x) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def expected_spend(p: Array, q: Array, v: Array, n: Array, m: Array) -> Array:
    """E[mean order value | n orders with mean m] (Gamma-Gamma, eq. 5 of
    Fader & Hardie 2013): the customer's own mean shrunk towards the
    population's, the more the fewer orders they made. NaN when q <= 1
    (the population mean is infinite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = p * n / (p * n + q - 1)
        population_mean = np.where(q > 1, v * p / (q - 1), np.nan)
    return (1 - weight) * population_mean + weight * m


def lifetime_value(
    bgnbd: Sequence[Array],
    gamma_gamma: Sequence[Array],
    x: Array,
    t_x: Array,
    T: Array,
    m: Array,
    *,
    months: int,
    discount_rate: float,
) -> Array:
    """Expected revenue over the next ``months`` months (``bgnbd`` = r, alpha,
    a, b; ``gamma_gamma`` = p, q, v): expected purchases
    per month times the expected order value, each month discounted at
    ``discount_rate`` (monthly; 0: no discounting)."""
    r, alpha, a, b = bgnbd
    p, q, v = gamma_gamma
    spend = expected_spend(p, q, v, x + 1, m)
    if discount_rate == 0:
        return spend * expected_purchases(r, alpha, a, b, x, t_x, T, months * DAYS_PER_MONTH)
    total: Array = 0.0
    before: Array = 0.0
    for month in range(1, months + 1):
        upto = expected_purchases(r, alpha, a, b, x, t_x, T, month * DAYS_PER_MONTH)
        total = total + spend * (upto - before) / (1 + discount_rate) ** month
        before = upto
    return total
