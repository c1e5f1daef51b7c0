"""Population models: what a plugin learns from a population in ``Engine.fit``.

Cut-offs (``top_pct``, ``percentile``) are the population knowledge the
engine learns by itself. A plugin may need more: a statistical model whose
parameters are estimated on the customer base and which its features then
apply to one customer at a time (a lifetime-value model, a churn model).
Such a plugin returns a :class:`PopulationModel` from the
``register_models`` hook; the engine then

- fits it in :meth:`Engine.fit <customer_rules.Engine.fit>`, on the same
  population and as of the same date, *before* the cut-offs, so a policy
  can rank customers by a feature the model computes;
- keeps its parameters in ``engine.fitted_`` under the reserved key
  ``"_models"`` (no scheme id starts with ``_``), so
  :meth:`~customer_rules.Engine.save_fitted` writes them beside the
  cut-offs and :meth:`~customer_rules.Engine.load_fitted` gives them back
  (checked by :meth:`PopulationModel.check` first: a file is loaded whole
  or not at all).

The parameters are a small, fixed-size JSON object (numbers, strings,
booleans, lists and objects of them): what the model needs to predict, not
the data it was fitted on.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

#: The key of ``engine.fitted_`` (and of a fitted file) that holds the models.
MODELS_KEY = "_models"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class PopulationModel(ABC):
    """A model a plugin fits on the population (see the module docs).

    Subclasses set :attr:`name` (an identifier, unique in an engine) and
    implement :meth:`fit`, :meth:`check` and :meth:`use`. The engine calls
    :meth:`use` after a fit and after a load, so the model (and the features
    reading it) always run with the parameters ``engine.fitted_`` shows.
    """

    #: The model's key in ``engine.fitted_["_models"]`` and in fitted files.
    name: str = ""

    @abstractmethod
    def fit(self, population: pl.DataFrame, as_of: dt.date | None) -> dict[str, Any]:
        """Estimate the parameters from ``population`` and return them, JSON-ready.

        ``population`` is the valid rows of the population as a canonical
        table (columns named by record path, e.g. ``value.orders_total``);
        ``as_of`` is the date given to ``Engine.fit`` (``None`` when none
        was given). Does not change the model: the engine calls :meth:`use`
        with the result. Raise a :class:`~customer_rules.CustomerRulesError`
        (or ``ValueError``) saying why the population cannot be fitted.
        """

    @abstractmethod
    def check(self, params: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` saying what is wrong if ``params`` (read
        from a fitted file) cannot be used; change nothing."""

    @abstractmethod
    def use(self, params: Mapping[str, Any], *, as_of: dt.date | None, population: int | None) -> None:
        """Predict with ``params`` from now on (they were fitted or checked):
        ``as_of`` is the date they were fitted as of, ``population`` the
        number of customers they were fitted on (each ``None`` when unknown)."""


def check_name(model: PopulationModel) -> str | None:
    """Why ``model`` cannot be registered (``None`` when it can)."""
    if not isinstance(model, PopulationModel):
        return f"register_models returned {type(model).__name__}, not a PopulationModel"
    if not isinstance(model.name, str) or not _NAME.match(model.name):
        return f"a model's name must be an identifier (letters, digits, _), got {model.name!r}"
    return None
