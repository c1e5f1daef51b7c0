"""Predicted customer lifetime value for customer_rules (BG/NBD + Gamma-Gamma).

Installed, this module is found through the ``customer_rules`` entry-point
group under the name ``clv``. It implements two hooks:

- ``register_models``: a :class:`LifetimeValueModel` named ``clv``, which
  ``engine.fit(customers, as_of=...)`` fits on the population with
  pymc-marketing — a BG/NBD model of purchases and drop-out and a
  Gamma-Gamma model of order values, by MAP (maximum a posteriori; with the
  flat priors used here, maximum likelihood) — and whose parameters
  ``engine.save_fitted`` / ``engine.load_fitted`` keep with the cut-offs;
- ``register_features``: the features rules read (:data:`FEATURES`):
  ``clv_probability_alive``, ``clv_expected_purchases(days)``,
  ``predicted_clv`` with its interval ``predicted_clv_low`` /
  ``predicted_clv_high``, and ``clv_model`` (the model and the date it was
  fitted as of, for explanations).

The models read the purchase history of the customer record (the columns
``customers_from_transactions`` fills from an order log):

=================  ==========================================================
model input        from the record, as of the date of the fit or decision
=================  ==========================================================
frequency ``x``    ``value.orders_total - 1`` (repeat orders)
recency ``t_x``    days from ``value.first_purchase_at`` to ``value.last_purchase_at``
age ``T``          days from ``value.first_purchase_at`` to ``as_of``
monetary ``m``     ``value.revenue_total / value.orders_total`` (mean order value)
=================  ==========================================================

A customer without a first or last purchase or an order count, with a last
purchase after ``as_of`` or before the first, is left out of the fit and
their features are missing (``predicted_clv`` also needs
``value.revenue_total``). Two orders on one day count as two purchases.
As the record keeps no separate value of the first order, ``m`` is the mean
of all ``x + 1`` orders, and the Gamma-Gamma model is fitted and applied
with that many orders averaged (pymc-marketing's examples average the
repeat orders only); it is fitted on the customers with a positive revenue.

Settings (horizon, discount rate, interval level) are those of a
:class:`CLVPlugin`; the module registers one with the defaults. For others,
block this one and register your own::

    engine = cr.Engine(plugins=[CLVPlugin(CLVSettings(horizon_months=24))], block=["clv"])

pymc-marketing is imported only to fit (it takes seconds to import);
deciding customers with a fitted or loaded model needs numpy and scipy only.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from customer_rules import NotFittedError
from customer_rules.plugin import Customer, Feature, PopulationModel, feature, hookimpl

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

__all__ = [
    "FEATURES",
    "MODEL_NAME",
    "CLVParams",
    "CLVPlugin",
    "CLVSettings",
    "LifetimeValueModel",
    "register_features",
    "register_models",
    "summarise",
]

__version__ = "0.1.0"

#: The model's name in ``engine.models`` and in fitted files (``_models.clv``).
MODEL_NAME = "clv"
#: What ``clv_model`` and the docs call the model.
MODEL_TITLE = "BG/NBD + Gamma-Gamma"
#: The features the plugin registers.
FEATURES = (
    "clv_probability_alive",
    "clv_expected_purchases",
    "predicted_clv",
    "predicted_clv_low",
    "predicted_clv_high",
    "clv_model",
)
EXTRA_HINT = "pip install 'customer-rules[clv]' (from a checkout: pip install -e plugins/customer-rules-clv)"

FIRST, LAST, ORDERS, REVENUE = (
    "value.first_purchase_at",
    "value.last_purchase_at",
    "value.orders_total",
    "value.revenue_total",
)
HISTORY = (FIRST, LAST, ORDERS)
BGNBD_NAMES = ("r", "alpha", "a", "b")
GAMMA_GAMMA_NAMES = ("p", "q", "v")


class CLVSettings(BaseModel):
    """How the plugin predicts (not fitted: the same for every population)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_months: int = Field(12, ge=1, le=600, description="months of future purchases predicted_clv counts")
    discount_rate: float = Field(0.0, ge=0, lt=1, description="monthly discount rate of future revenue")
    interval: float = Field(0.9, gt=0, lt=1, description="probability the predicted_clv interval holds")
    draws: int = Field(200, ge=20, le=5000, description="parameter draws the interval is computed from")
    seed: int = Field(0, ge=0, description="seed of the parameter draws (the interval is reproducible)")
    min_customers: int = Field(20, ge=2, description="fewest customers with a purchase history to fit on")


def _positive(values: Mapping[str, float], names: tuple[str, ...], what: str) -> dict[str, float]:
    if set(values) != set(names):
        raise ValueError(f"{what} needs exactly {', '.join(names)}; got {', '.join(sorted(values)) or 'none'}")
    for name in names:
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{what} parameter {name!r} must be a positive finite number, got {v!r}")
    return {n: float(values[n]) for n in names}


def _covariance(cov: list[list[float]] | None, size: int, what: str) -> list[list[float]] | None:
    if cov is None:
        return None
    import numpy as np

    arr = np.asarray(cov, dtype=float)
    if arr.shape != (size, size):
        raise ValueError(f"{what} must be a {size}x{size} matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or not np.allclose(arr, arr.T):
        raise ValueError(f"{what} must be a finite symmetric matrix")
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(f"{what} is not positive definite") from None
    return cov


class CLVParams(BaseModel):
    """The fitted parameters: what a fitted file keeps under ``_models.clv.params``.

    ``bgnbd`` (r, alpha, a, b; time in days) and ``gamma_gamma`` (p, q, v)
    are the MAP estimates; ``*_log_cov`` the covariance of their logarithms
    (in the order of the names) from the curvature of the log-likelihood at
    the estimate (a Laplace approximation; ``None`` when it is not positive
    definite, and the interval is then missing). ``customers`` and
    ``spend_customers`` count the customers each model was fitted on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = MODEL_TITLE
    method: str = "map"
    time_unit: str = "days"
    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float]
    bgnbd_log_cov: list[list[float]] | None = None
    gamma_gamma_log_cov: list[list[float]] | None = None
    customers: int = Field(ge=0)
    spend_customers: int = Field(ge=0)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if value != MODEL_TITLE:
            raise ValueError(f"parameters of a {value!r} model, not {MODEL_TITLE!r}")
        return value

    @field_validator("time_unit")
    @classmethod
    def _days(cls, value: str) -> str:
        if value != "days":
            raise ValueError(f"time_unit must be 'days', got {value!r}")
        return value

    @field_validator("bgnbd")
    @classmethod
    def _bgnbd(cls, value: dict[str, float]) -> dict[str, float]:
        return _positive(value, BGNBD_NAMES, "bgnbd")

    @field_validator("gamma_gamma")
    @classmethod
    def _gamma_gamma(cls, value: dict[str, float]) -> dict[str, float]:
        return _positive(value, GAMMA_GAMMA_NAMES, "gamma_gamma")

    @field_validator("bgnbd_log_cov")
    @classmethod
    def _bgnbd_cov(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        return _covariance(value, len(BGNBD_NAMES), "bgnbd_log_cov")

    @field_validator("gamma_gamma_log_cov")
    @classmethod
    def _gamma_gamma_cov(cls, value: list[list[float]] | None) -> list[list[float]] | None:
        return _covariance(value, len(GAMMA_GAMMA_NAMES), "gamma_gamma_log_cov")


# -- the customer table → model inputs -------------------------------------------------


def summarise(population: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The model inputs of every customer with a usable purchase history:
    columns ``x`` (repeat orders), ``t_x`` (recency, days), ``T`` (age,
    days) and ``m`` (mean order value; null without revenue).

    ``population`` is a canonical customer table (columns named by record
    path); an absent column counts as unknown. Rows with a missing or
    inconsistent history (see the module docs) are left out.
    """
    import polars as pl

    def col(name: str, dtype: Any) -> pl.Expr:
        return pl.col(name) if name in population.columns else pl.lit(None, dtype=dtype)

    first, last = col(FIRST, pl.Date()), col(LAST, pl.Date())
    orders, revenue = col(ORDERS, pl.Int64()).cast(pl.Float64()), col(REVENUE, pl.Float64()).cast(pl.Float64())
    day = pl.lit(as_of, dtype=pl.Date())
    return (
        population.lazy()
        .select(
            x=orders - 1,
            t_x=(last - first).dt.total_days().cast(pl.Float64()),
            T=(day - first).dt.total_days().cast(pl.Float64()),
            m=revenue / orders,
        )
        .filter(
            pl.col("x").is_not_null()
            & (pl.col("x") >= 0)
            & (pl.col("t_x") >= 0)
            & (pl.col("T") >= pl.col("t_x"))
        )
        .collect()
    )


def _history(c: Any, as_of: dt.date) -> tuple[float, float, float] | None:
    """(x, t_x, T) of one record, ``None`` when its history is missing or inconsistent."""
    v = c.value
    first, last, orders = v.first_purchase_at, v.last_purchase_at, v.orders_total
    if first is None or last is None or orders is None or orders < 1 or not first <= last <= as_of:
        return None
    return float(orders - 1), float((last - first).days), float((as_of - first).days)


def _mean_order(c: Any) -> float | None:
    revenue, orders = c.value.revenue_total, c.value.orders_total
    return None if revenue is None or not orders else float(revenue) / orders


# -- fitting with pymc-marketing ----------------------------------------------------------


def _import_clv() -> Any:
    try:
        from pymc_marketing import clv
    except ImportError as exc:
        raise ImportError(f"fitting the CLV model needs pymc-marketing (the extra 'clv'): {EXTRA_HINT}") from exc
    return clv


def _log_covariance(model: Any, names: tuple[str, ...], estimate: Mapping[str, float]) -> list[list[float]] | None:
    """The Laplace covariance of log(parameters) at the estimate: the inverse
    of the negative Hessian of the model's log-likelihood (flat priors), by
    central differences of its compiled log-probability (the graph the MAP
    search already compiled, so nothing new is compiled)."""
    import numpy as np

    logp = model.compile_logp(jacobian=False)
    values = {model.rvs_to_values[model[n]].name: n for n in names}
    centre = np.log([estimate[n] for n in names])

    def f(theta: np.ndarray) -> float:
        return float(logp({value: theta[names.index(n)] for value, n in values.items()}))

    k, h = len(names), 1e-3
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            step_i, step_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            d = (
                f(centre + step_i + step_j)
                - f(centre + step_i - step_j)
                - f(centre - step_i + step_j)
                + f(centre - step_i - step_j)
            ) / (4 * h * h)
            hessian[i, j] = hessian[j, i] = d
    try:
        cov = np.linalg.inv(-hessian)
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)):
        return None
    cov = (cov + cov.T) / 2
    return [[float(c) for c in row] for row in cov]


def _map_estimate(fitted: Any, names: tuple[str, ...]) -> dict[str, float]:
    posterior = fitted.fit_result
    return {n: float(posterior[n].values.reshape(-1)[0]) for n in names}


def fit_params(summary: pl.DataFrame, settings: CLVSettings) -> CLVParams:
    """Fit the BG/NBD and Gamma-Gamma models on ``summary`` (see :func:`summarise`) by MAP."""
    import pandas as pd

    clv = _import_clv()
    from pymc_extras.prior import Prior  # type: ignore[import-untyped]

    if summary.height < settings.min_customers:
        raise ValueError(
            f"the CLV model needs at least {settings.min_customers} customers with a purchase history "
            f"({', '.join(HISTORY)}); the population has {summary.height}"
        )
    spenders = summary.filter(summary["m"] > 0)
    if spenders.height < settings.min_customers:
        raise ValueError(
            f"the Gamma-Gamma model needs at least {settings.min_customers} customers with a positive "
            f"{REVENUE}; the population has {spenders.height}"
        )
    flat = {n: Prior("HalfFlat") for n in BGNBD_NAMES}
    purchases = pd.DataFrame(
        {
            "customer_id": range(summary.height),
            "frequency": summary["x"].to_numpy(),
            "recency": summary["t_x"].to_numpy(),
            "T": summary["T"].to_numpy(),
        }
    )
    spend = pd.DataFrame(
        {
            "customer_id": range(spenders.height),
            "frequency": spenders["x"].to_numpy() + 1,  # m averages every order, the first too
            "monetary_value": spenders["m"].to_numpy(),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymc-marketing's notices about its API and data
        bgnbd = clv.BetaGeoModel(model_config=flat)
        bgnbd.fit(data=purchases, method="map", progressbar=False)
        gamma_gamma = clv.GammaGammaModel()  # flat priors on p, q, v by default
        gamma_gamma.fit(data=spend, method="map", progressbar=False)
        purchase_estimate = _map_estimate(bgnbd, BGNBD_NAMES)
        spend_estimate = _map_estimate(gamma_gamma, GAMMA_GAMMA_NAMES)
        return CLVParams(
            bgnbd=purchase_estimate,
            gamma_gamma=spend_estimate,
            bgnbd_log_cov=_log_covariance(bgnbd.model, BGNBD_NAMES, purchase_estimate),
            gamma_gamma_log_cov=_log_covariance(gamma_gamma.model, GAMMA_GAMMA_NAMES, spend_estimate),
            customers=summary.height,
            spend_customers=spenders.height,
        )


# -- the model the engine fits, and its predictions ----------------------------------------


@dataclass(frozen=True)
class _Fitted:
    params: CLVParams
    as_of: dt.date | None
    population: int | None
    bgnbd: tuple[float, ...]
    gamma_gamma: tuple[float, ...]
    bgnbd_draws: tuple[np.ndarray, ...] | None  # each of shape (draws, 1)
    gamma_gamma_draws: tuple[np.ndarray, ...] | None


class LifetimeValueModel(PopulationModel):
    """The ``clv`` population model: fitted by ``Engine.fit``, read by the plugin's features."""

    name = MODEL_NAME

    def __init__(self, settings: CLVSettings | None = None) -> None:
        self.settings = settings or CLVSettings()
        self._fitted: _Fitted | None = None
        # one customer's predictions, shared by the features that read them (cleared by use())
        self._one = lru_cache(maxsize=4096)(self._predict_one)

    # -- PopulationModel --------------------------------------------------------------
    def fit(self, population: pl.DataFrame, as_of: dt.date | None) -> dict[str, Any]:
        if as_of is None:
            raise ValueError("fitting the CLV model needs as_of: engine.fit(customers, as_of=...)")
        return fit_params(summarise(population, as_of), self.settings).model_dump()

    def check(self, params: Mapping[str, Any]) -> None:
        self._parse(params)

    def use(self, params: Mapping[str, Any], *, as_of: dt.date | None, population: int | None) -> None:
        import numpy as np

        parsed = self._parse(params)
        rng = np.random.default_rng(self.settings.seed)

        def draws(estimate: dict[str, float], names: tuple[str, ...], cov: Any) -> tuple[np.ndarray, ...] | None:
            if cov is None:
                return None
            centre = np.log([estimate[n] for n in names])
            sample = np.exp(rng.multivariate_normal(centre, np.asarray(cov), size=self.settings.draws))
            return tuple(sample[:, i : i + 1] for i in range(len(names)))

        self._fitted = _Fitted(
            params=parsed,
            as_of=as_of,
            population=population,
            bgnbd=tuple(parsed.bgnbd[n] for n in BGNBD_NAMES),
            gamma_gamma=tuple(parsed.gamma_gamma[n] for n in GAMMA_GAMMA_NAMES),
            bgnbd_draws=draws(parsed.bgnbd, BGNBD_NAMES, parsed.bgnbd_log_cov),
            gamma_gamma_draws=draws(parsed.gamma_gamma, GAMMA_GAMMA_NAMES, parsed.gamma_gamma_log_cov),
        )
        self._one.cache_clear()

    @staticmethod
    def _parse(params: Mapping[str, Any]) -> CLVParams:
        try:
            return CLVParams.model_validate(dict(params))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None

    # -- what the features read -----------------------------------------------------------
    @property
    def fitted(self) -> _Fitted:
        """The parameters in use; :class:`~customer_rules.NotFittedError` before a fit or load."""
        if self._fitted is None:
            raise NotFittedError(
                "the CLV model is not fitted: call engine.fit(customers, as_of=...) or engine.load_fitted(file)"
            )
        return self._fitted

    @property
    def description(self) -> str:
        """The model, how and as of when it was fitted: ``BG/NBD + Gamma-Gamma (MAP) 2026-11-22``."""
        fitted = self.fitted
        day = fitted.as_of.isoformat() if fitted.as_of is not None else "unknown date"
        return f"{MODEL_TITLE} ({fitted.params.method.upper()}) {day}"

    def predict(self, x: Any, t_x: Any, T: Any, m: Any, *, days: int = 0) -> dict[str, Any]:
        """Predictions for arrays of customers: ``alive``, ``purchases``
        (in ``days`` days), ``clv``, ``low`` and ``high`` (NaN where unknown)."""
        import numpy as np

        from customer_rules_clv import formulas

        fitted, s = self.fitted, self.settings
        x, t_x, T, m = (np.asarray(a, dtype=float) for a in (x, t_x, T, m))
        with np.errstate(all="ignore"):
            r, alpha, a, b = fitted.bgnbd
            out: dict[str, Any] = {
                "alive": formulas.probability_alive(r, alpha, a, b, x, t_x, T),
                "purchases": formulas.expected_purchases(r, alpha, a, b, x, t_x, T, float(days)),
                "clv": formulas.lifetime_value(
                    fitted.bgnbd,
                    fitted.gamma_gamma,
                    x,
                    t_x,
                    T,
                    m,
                    months=s.horizon_months,
                    discount_rate=s.discount_rate,
                ),
            }
            if fitted.bgnbd_draws is None or fitted.gamma_gamma_draws is None:
                out["low"] = out["high"] = np.full(x.shape, np.nan)
            else:
                samples = formulas.lifetime_value(
                    fitted.bgnbd_draws,
                    fitted.gamma_gamma_draws,
                    x,
                    t_x,
                    T,
                    m,
                    months=s.horizon_months,
                    discount_rate=s.discount_rate,
                )
                tail = (1 - s.interval) / 2
                out["low"], out["high"] = np.nanquantile(samples, [tail, 1 - tail], axis=0)
        return out

    def _predict_one(self, x: float, t_x: float, T: float, m: float, days: int) -> dict[str, float | None]:
        out = self.predict([x], [t_x], [T], [m], days=days)
        return {k: _finite(v[0]) for k, v in out.items()}

    def for_record(self, c: Any, as_of: dt.date, what: str, days: int = 0) -> float | None:
        """One prediction (a key of :meth:`predict`) for one record; ``None`` when unknown."""
        self.fitted  # noqa: B018 - NotFittedError first, even for a record without history
        history = _history(c, as_of)
        if history is None:
            return None
        mean = _mean_order(c) if what in ("clv", "low", "high") else 0.0
        if mean is None:
            return None
        return self._one(*history, mean, days)[what]

    def polars(self, as_of: dt.date, what: str, days: int = 0) -> pl.Expr:
        """The polars expression computing one prediction over a canonical table."""
        import numpy as np
        import polars as pl

        self.fitted  # noqa: B018 - NotFittedError when the plan is built
        if days < 0:  # no prediction into the past, as for one record
            return pl.col(ORDERS).cast(pl.Float64()) * pl.lit(None, dtype=pl.Float64())  # a null per row
        first, last = pl.col(FIRST), pl.col(LAST)
        orders = pl.col(ORDERS).cast(pl.Float64())
        day = pl.lit(as_of, dtype=pl.Date())
        valid = orders.is_not_null() & (orders >= 1) & (first <= last) & (last <= day)
        inputs = pl.struct(
            x=orders - 1,
            t_x=(last - first).dt.total_days().cast(pl.Float64()),
            T=(day - first).dt.total_days().cast(pl.Float64()),
            m=(pl.col(REVENUE).cast(pl.Float64()) / orders) if what in ("clv", "low", "high") else pl.lit(0.0),
            ok=valid.fill_null(False),
        )

        def compute(batch: pl.Series) -> pl.Series:
            frame = batch.struct.unnest()
            cols = [frame[c].fill_null(np.nan).to_numpy() for c in ("x", "t_x", "T", "m")]
            values = np.asarray(self.predict(*cols, days=days)[what], dtype=float)
            values = np.where(frame["ok"].to_numpy() & np.isfinite(values), values, np.nan)
            return pl.Series(values, dtype=pl.Float64()).fill_nan(None)

        return inputs.map_batches(compute, return_dtype=pl.Float64())


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


# -- the features --------------------------------------------------------------------------


def make_features(model: LifetimeValueModel) -> list[Feature]:
    """The plugin's features, predicting with ``model``."""
    history = HISTORY
    with_revenue = (*HISTORY, REVENUE)
    months = model.settings.horizon_months
    level = round(model.settings.interval * 100)

    def predicted(what: str, en: str, zh: str, description: str) -> Feature:
        def polars_impl(as_of: dt.date) -> pl.Expr:
            return model.polars(as_of, what)

        def func(c: Customer, as_of: dt.date) -> float | None:
            return model.for_record(c, as_of, what)

        return feature(
            name=f"predicted_clv{'' if what == 'clv' else '_' + what}",
            unit="CNY",
            en=en,
            zh=zh,
            reads=with_revenue,
            polars=polars_impl,
            description=description,
        )(func)

    def alive_polars(as_of: dt.date) -> pl.Expr:
        return model.polars(as_of, "alive")

    @feature(
        unit="share 0-1",
        en="Probability alive",
        zh="存活概率",
        reads=history,
        polars=alive_polars,
        description="Probability that the customer still buys (has not dropped out), by the fitted BG/NBD "
        "model from their purchase history as of as_of; 1 for a customer without repeat orders.",
    )
    def clv_probability_alive(c: Customer, as_of: dt.date) -> float | None:
        return model.for_record(c, as_of, "alive")

    def purchases_polars(as_of: dt.date, days: int) -> pl.Expr:
        return model.polars(as_of, "purchases", days)

    @feature(
        unit="count",
        en="Expected purchases",
        zh="预期购买次数",
        args=(("days", "integer"),),
        reads=history,
        polars=purchases_polars,
        description="Expected number of orders in the next `days` days after as_of, by the fitted BG/NBD model.",
    )
    def clv_expected_purchases(c: Customer, as_of: dt.date, days: int) -> float | None:
        if days < 0:
            return None
        return model.for_record(c, as_of, "purchases", days)

    def model_polars(as_of: dt.date) -> pl.Expr:
        import polars as pl

        return pl.lit(model.description, dtype=pl.String())

    @feature(
        type="string",
        en="CLV model (fitted as of)",
        zh="CLV 模型（拟合日期）",
        reads=(),
        polars=model_polars,
        description="The lifetime-value model the clv features predict with and the date it was fitted as of, "
        "e.g. 'BG/NBD + Gamma-Gamma (MAP) 2026-11-22' (show it in a policy's details).",
    )
    def clv_model(c: Customer, as_of: dt.date) -> str:
        return model.description

    discount = model.settings.discount_rate
    per = f", discounted {discount:.2%} a month" if discount else ""
    return [
        clv_probability_alive,
        clv_expected_purchases,
        predicted(
            "clv",
            "Predicted lifetime value",
            "预测客户终身价值",
            f"Expected revenue over the next {months} months{per}: expected orders (BG/NBD) times the "
            "expected order value (Gamma-Gamma), from the purchase history as of as_of.",
        ),
        predicted(
            "low",
            "Predicted lifetime value, low",
            "预测终身价值下限",
            f"Lower end of the {level}% interval of predicted_clv over the fitted parameters' uncertainty.",
        ),
        predicted(
            "high",
            "Predicted lifetime value, high",
            "预测终身价值上限",
            f"Upper end of the {level}% interval of predicted_clv over the fitted parameters' uncertainty.",
        ),
        clv_model,
    ]


# -- hooks -----------------------------------------------------------------------------------


class CLVPlugin:
    """The plugin with settings of your own: ``Engine(plugins=[CLVPlugin(CLVSettings(...))], block=["clv"])``."""

    def __init__(self, settings: CLVSettings | None = None) -> None:
        self.settings = settings or CLVSettings()

    @hookimpl
    def register_models(self) -> PopulationModel:
        return LifetimeValueModel(self.settings)

    @hookimpl
    def register_features(self, engine: Any) -> list[Feature]:
        model = engine.models[MODEL_NAME]
        assert isinstance(model, LifetimeValueModel)
        return make_features(model)


_DEFAULT = CLVPlugin()


@hookimpl
def register_models() -> PopulationModel:
    """The ``clv`` model with the default :class:`CLVSettings`."""
    return _DEFAULT.register_models()


@hookimpl
def register_features(engine: Any) -> list[Feature]:
    """The clv features, predicting with the engine's ``clv`` model."""
    return _DEFAULT.register_features(engine)

