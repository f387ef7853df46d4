"""Allocation policies between strategies (SPEC §7): how the budget B (the sum of the configured
weights) is split across sleeves on each allocation date, from the sleeves' per-bar returns
over the last `lookback` bars. Pure numpy; the engine calls `Allocation.targets` on the
allocation dates (`allocation_dates`) and moves capital to the targets as drift rebalancing does.

Policies (sample statistics, ddof = 1): `fixed` (the configured weights, no capital moves),
`equal` (B / n), `inverse_volatility` (w_i proportional to 1 / stdev_i), `risk_parity` (equal
risk contributions w_i (S w)_i = w'S w / n), `min_variance` (min w'S w under the bounds and
sum B) and `momentum` (w_i proportional to max(R_i, 0), R_i the total return over the window;
the configured weights if none is positive). A sleeve with zero or undefined volatility keeps
its configured weight and the policy shares the rest of B among the others; the bounds
[min_weight, max_weight] are then applied by `clip_to_bounds`. Register a policy of your own
with `register_allocator(name, obj)`: `obj.weights(window)` returns the targets aligned with
`window.ids`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from sqlorch.errors import SqlorchError, did_you_mean

ZERO_VOLATILITY = 1e-12  # a per-bar stdev at or below this is zero (a sleeve that held nothing)
SUM_TOLERANCE = 1e-9  # how far from B a policy's weights may sum (relative to B)
PERIODS = ("daily", "weekly", "monthly", "quarterly")


@dataclass(frozen=True)
class AllocationWindow:
    """What a policy sees on an allocation date: `returns` (lookback x n, oldest first; row -1 is
    the allocation bar itself), `ids` (the sleeves' strategy ids), `configured` (the configured
    weights, summing to `budget`), `current` (each sleeve's share of the sleeves' equity at the
    allocation bar's close, times `budget`: its weight now), `budget` (B), and the bar (`bar`,
    `ts`). Nothing in it is later than the allocation bar."""

    returns: np.ndarray
    ids: tuple[str, ...]
    configured: np.ndarray
    current: np.ndarray
    budget: float
    bar: int = 0
    ts: dt.datetime | None = None


@runtime_checkable
class Allocator(Protocol):
    """A policy: `weights(window)` returns the target weights aligned with `window.ids`, each
    finite and >= 0, summing to `window.budget`."""

    def weights(self, window: AllocationWindow) -> Sequence[float]: ...


# -- the math --------------------------------------------------------------------------------------


def volatilities(returns: np.ndarray) -> np.ndarray:
    """Each column's sample stdev (ddof = 1); NaN with fewer than two rows."""
    if returns.shape[0] < 2:
        return np.full(returns.shape[1], np.nan)
    return returns.std(axis=0, ddof=1)


def risk_parity(cov: np.ndarray, budget: float = 1.0, tol: float = 1e-12, max_iter: int = 500) -> np.ndarray:
    """Weights summing to `budget` with equal risk contributions w_i (S w)_i = w'S w / n under the
    covariance `cov` (positive diagonal). Newton's method on the strictly convex
    f(y) = y'S y / 2 - sum(log y_i) / n, whose minimum has y_i (S y)_i = 1/n, then scaled. A singular
    S under which some positive weights carry no risk at all (f has no minimum) gets such weights:
    every contribution is then 0, equal."""
    try:
        w = _risk_parity(cov, budget, tol, max_iter)
    except np.linalg.LinAlgError:
        w = None
    if w is None:
        w = min_variance(cov, budget, 0.0, budget)
    return w


def _risk_parity(cov: np.ndarray, budget: float, tol: float, max_iter: int) -> np.ndarray | None:
    """Newton's method (see risk_parity); None if the iterates run off (no minimum)."""
    n = cov.shape[0]
    scale = float(np.mean(np.diag(cov)))
    s = cov / scale  # well scaled: the answer does not depend on it
    y = 1.0 / np.sqrt(np.diag(s) * n)
    best, best_error = y, np.inf
    for _ in range(max_iter):
        sy = s @ y
        grad = sy - 1.0 / (n * y)
        hess = s + np.diag(1.0 / (n * y * y))
        step = np.linalg.solve(hess, grad)
        decrement = float(grad @ step)
        if decrement < 1e-24:  # as close as floats get (an ill-conditioned S ends here)
            break
        alpha = 1.0
        while np.any(y - alpha * step <= 0):  # stay in the domain (y > 0)
            alpha *= 0.5
        if decrement > 1e-14:  # backtrack (below this, f's rounding hides any decrease: full steps then)
            f0 = 0.5 * y @ sy - np.log(y).sum() / n
            now = _contribution_error(s, y)
            while alpha > 1e-20:
                z = y - alpha * step
                # f decreases enough, or (where f's rounding hides its decrease) the contributions draw closer
                if 0.5 * z @ s @ z - np.log(z).sum() / n <= f0 - 0.25 * alpha * decrement \
                        or _contribution_error(s, z) < now:
                    break
                alpha *= 0.5
        y = y - alpha * step
        if not np.all(np.isfinite(y)) or y.sum() > 1e15:  # running off to a riskless direction
            return None
        error = _contribution_error(s, y)
        if error < best_error:
            best, best_error = y, error
        if error < tol:
            break
    return budget * best / best.sum()


def _contribution_error(s: np.ndarray, y: np.ndarray) -> float:
    """How far the risk contributions y_i (S y)_i are from 1/n each, relative: max |n y_i (S y)_i - 1|."""
    return float(np.max(np.abs(y * (s @ y) * len(y) - 1.0)))


def min_variance(cov: np.ndarray, budget: float, lower: float, upper: float, max_iter: int = 0) -> np.ndarray:
    """The weights minimising w'S w subject to sum(w) = budget and lower <= w_i <= upper, by a
    primal active-set method (S positive semi-definite; the bounds feasible). Equality
    subproblems are solved by least squares, so a singular S is fine."""
    n = cov.shape[0]
    scale = float(np.max(np.abs(np.diag(cov)))) or 1.0
    s = cov / scale
    w = np.full(n, budget / n)
    at = np.zeros(n, dtype=np.int8)  # 0 free, -1 at lower, +1 at upper
    eps = 1e-13 * max(abs(budget), 1.0)
    for _ in range(max_iter or 20 * n + 50):
        free = np.flatnonzero(at == 0)
        fixed = np.flatnonzero(at != 0)
        if free.size:
            # minimise over the free weights, the fixed ones held: [2 S_FF 1; 1' 0][w_F; -nu] = [-2 S_FA w_A; rest]
            k = free.size
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = 2 * s[np.ix_(free, free)]
            kkt[:k, k] = 1.0
            kkt[k, :k] = 1.0
            rhs = np.zeros(k + 1)
            rhs[:k] = -2 * s[np.ix_(free, fixed)] @ w[fixed]
            rhs[k] = budget - w[fixed].sum()
            target = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
            step = target - w[free]
        else:
            step = np.zeros(0)
        if free.size and np.max(np.abs(step)) > eps:
            alpha, blocking, bound = 1.0, -1, 0
            for m, i in enumerate(free):
                if step[m] < 0 and w[i] + step[m] < lower:
                    a = (lower - w[i]) / step[m]
                    if a < alpha:
                        alpha, blocking, bound = a, i, -1
                elif step[m] > 0 and w[i] + step[m] > upper:
                    a = (upper - w[i]) / step[m]
                    if a < alpha:
                        alpha, blocking, bound = a, i, 1
            w[free] += alpha * step
            if blocking >= 0:
                at[blocking] = bound
                w[blocking] = lower if bound < 0 else upper
            continue
        # stationary on the working set: a fixed weight whose multiplier has the wrong sign is freed
        grad = 2 * s @ w
        nu = float(grad[free].mean()) if free.size else _best_nu(grad, at)
        mult = (grad - nu) * -at  # >= 0 when the bound is right: at lower grad >= nu, at upper grad <= nu
        mult[at == 0] = 0.0
        worst = int(np.argmin(mult))
        if mult[worst] >= -1e-12 * max(1.0, float(np.max(np.abs(grad)))):
            break
        at[worst] = 0
    return w


def _best_nu(grad: np.ndarray, at: np.ndarray) -> float:
    """With every weight at a bound, the multiplier of the sum that fits the bounds best: inside
    [max of the gradients at upper, min of those at lower] when that is not empty."""
    lo, hi = grad[at < 0], grad[at > 0]
    if not lo.size:
        return float(hi.max())
    if not hi.size:
        return float(lo.min())
    return (float(lo.min()) + float(hi.max())) / 2


def clip_to_bounds(weights: np.ndarray, budget: float, lower: float, upper: float) -> np.ndarray:
    """`weights` (>= 0, summing to `budget`) with each clipped to [lower, upper], the excess or
    deficit going to the unclipped ones in proportion to their weights, until every bound holds:
    w_i = clip(lambda x weights_i, lower, upper) with lambda such that they sum to `budget`. When
    the unclipped ones weigh nothing (all zero), they share what is left equally."""
    w = np.asarray(weights, dtype=float)
    if np.all((w >= lower) & (w <= upper)):
        return w.copy()
    top = float(w.max())
    out = _scaled_clip(w / top, budget, lower, upper) if top > 0 else None
    if out is None:  # the positive ones all at their cap: the zero (or negligible) ones share the rest equally
        capped = w / top * 1e300 >= upper if top > 0 else np.zeros(len(w), dtype=bool)
        out = np.where(capped, upper, (budget - upper * capped.sum()) / max(int((~capped).sum()), 1))
    return out


def _scaled_clip(w: np.ndarray, budget: float, lower: float, upper: float) -> np.ndarray | None:
    """clip(lambda x w, lower, upper) summing to `budget` (lambda found by bisection, then solved
    exactly on the clipped sets), or None if no lambda reaches it."""
    def total(lam: float) -> float:
        return float(np.clip(lam * w, lower, upper).sum())

    hi = 1.0
    while total(hi) < budget and hi < 1e300:
        hi *= 2.0
    if total(hi) < budget - SUM_TOLERANCE * max(budget, 1.0):
        return None
    lo = 0.0
    for _ in range(2000):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if total(mid) < budget:
            lo = mid
        else:
            hi = mid
    raw = hi * w
    low_set, high_set = raw <= lower, raw >= upper
    free = ~(low_set | high_set)
    out = np.where(low_set, lower, np.where(high_set, upper, raw))
    if free.any() and w[free].sum() > 0:
        lam = (budget - lower * low_set.sum() - upper * high_set.sum()) / w[free].sum()
        exact = lam * w[free]
        if np.all((exact >= lower - 1e-15) & (exact <= upper + 1e-15)):
            out[free] = exact
    return out


# -- the policies ----------------------------------------------------------------------------------


class _Builtin:
    """A built-in policy: `raw(window)` gives the weights of the sleeves with a volatility (the
    others keep their configured weights), `statistic(window)` what it weighed per sleeve."""

    name = ""
    uses_volatility = True

    def weights(self, window: AllocationWindow) -> np.ndarray:
        configured = np.asarray(window.configured, dtype=float)
        if not self.uses_volatility:
            return self.raw(window, np.arange(len(configured)), window.budget)
        vol = volatilities(window.returns)
        live = np.flatnonzero(np.isfinite(vol) & (vol > ZERO_VOLATILITY))
        out = configured.copy()
        if live.size == 0:
            return out
        rest = window.budget - float(configured[~np.isin(np.arange(len(out)), live)].sum())
        out[live] = self.raw(window, live, rest) if rest > 0 else 0.0
        return out

    def raw(self, window: AllocationWindow, live: np.ndarray, budget: float) -> np.ndarray:
        raise NotImplementedError

    def statistic(self, window: AllocationWindow) -> np.ndarray:
        """Per-bar volatility of each sleeve over the window."""
        return volatilities(window.returns)


class Fixed(_Builtin):
    """The configured weights: no capital moves (no allocation dates)."""

    name, uses_volatility = "fixed", False

    def raw(self, window, live, budget):
        return np.asarray(window.configured, dtype=float)[live]


class Equal(_Builtin):
    """B / n each."""

    name, uses_volatility = "equal", False

    def raw(self, window, live, budget):
        return np.full(live.size, budget / live.size)

    def statistic(self, window):
        return np.full(len(window.ids), np.nan)


class InverseVolatility(_Builtin):
    """w_i proportional to 1 / stdev_i."""

    name = "inverse_volatility"

    def raw(self, window, live, budget):
        inverse = 1.0 / volatilities(window.returns[:, live])
        return budget * inverse / inverse.sum()


class RiskParity(_Builtin):
    """Equal risk contributions under the sample covariance (`risk_parity`)."""

    name = "risk_parity"

    def raw(self, window, live, budget):
        return risk_parity(_covariance(window.returns[:, live]), budget)


class MinVariance(_Builtin):
    """Minimum variance under the bounds and sum B (`min_variance`); set by `Allocation`."""

    name = "min_variance"
    lower, upper = 0.0, 1.0

    def raw(self, window, live, budget):
        k = live.size  # with sleeves kept at their configured weights, the bounds may not fit the rest
        lower, upper = min(self.lower, budget / k), max(self.upper, budget / k)
        return min_variance(_covariance(window.returns[:, live]), budget, lower, upper)


class Momentum(_Builtin):
    """w_i proportional to max(R_i, 0), R_i the sleeve's total return over the window; the
    configured weights if none is positive."""

    name = "momentum"

    def raw(self, window, live, budget):
        gains = np.maximum(_total_returns(window.returns[:, live]), 0.0)
        if not np.any(gains > 0):
            configured = np.asarray(window.configured, dtype=float)[live]
            return budget * configured / configured.sum()
        return budget * gains / gains.sum()

    def statistic(self, window):
        return _total_returns(window.returns)


def _covariance(returns: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.cov(returns, rowvar=False, ddof=1))


def _total_returns(returns: np.ndarray) -> np.ndarray:
    return np.prod(1.0 + returns, axis=0) - 1.0


BUILTIN_POLICIES = ("fixed", "equal", "inverse_volatility", "risk_parity", "min_variance", "momentum")
_BUILTINS: dict[str, type[_Builtin]] = {c.name: c for c in (Fixed, Equal, InverseVolatility, RiskParity,
                                                            MinVariance, Momentum)}
_REGISTRY: dict[str, Any] = {}


def register_allocator(name: str, allocator: Any) -> None:
    """Make `allocator` (an object with a `weights(window)` method) available as the allocation
    policy `name` (replacing one of that name; a built-in name cannot be taken)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an allocator needs a non-empty name, got {name!r}")
    if name in _BUILTINS:
        raise ValueError(f"{name!r} is a built-in allocation policy; register yours under another name")
    check_allocator(allocator)
    _REGISTRY[name] = allocator


def check_allocator(allocator: Any) -> None:
    """TypeError unless `allocator` has the shape of an allocator (a callable `weights`)."""
    if isinstance(allocator, str) or not callable(getattr(allocator, "weights", None)):
        raise TypeError("an allocator needs a weights(window) method returning one weight per sleeve")


def allocator_names() -> list[str]:
    """The names `allocation` accepts (besides "module:Class")."""
    return [*_BUILTINS, *_REGISTRY]


def get_allocator(policy: Any) -> Any:
    """The allocator `policy` names (a built-in or registered name) or is; ValueError with a hint."""
    if not isinstance(policy, str):
        check_allocator(policy)
        return policy
    if policy in _BUILTINS:
        return _BUILTINS[policy]()
    if policy in _REGISTRY:
        return _REGISTRY[policy]
    names = allocator_names()
    raise ValueError(f"{policy!r} is not one of {', '.join(names)}{did_you_mean(policy, names)}; register your "
                     "own with sqlorch.register_allocator, or give \"module:Class\"")


def policy_name(policy: Any) -> str:
    """How a policy is recorded: its name, or its class's name for an object given directly."""
    return policy if isinstance(policy, str) else type(policy).__name__


def bounds_problem(n: int, budget: float, lower: float, upper: float) -> str | None:
    """Why n sleeves cannot have weights in [lower, upper] summing to `budget` (None if they can)."""
    slack = SUM_TOLERANCE * max(budget, 1.0)
    if n * lower > budget + slack:
        return (f"min_weight {lower:g} x {n} sleeves = {n * lower:g} is more than the budget {budget:g} "
                "(the sum of the weights); lower min_weight")
    if n * upper < budget - slack:
        return (f"max_weight {upper:g} x {n} sleeves = {n * upper:g} is less than the budget {budget:g} "
                "(the sum of the weights); raise max_weight")
    return None


def allocation_dates(timestamps: Sequence[dt.datetime], every: str | int, lookback: int) -> np.ndarray:
    """Which bars of the clock are allocation dates (bool per bar): the last bar of each calendar
    period ("daily", "weekly" (ISO weeks), "monthly", "quarterly"), or bars 0, n, 2n, ... for a
    number n, once `lookback` returns exist (bar t has t returns). The clock's last bar is never
    one: nothing could trade on it."""
    n = len(timestamps)
    due = np.zeros(n, dtype=np.bool_)
    if n < 2:
        return due
    if isinstance(every, int):
        due[::every] = True
    else:
        def period(ts: dt.datetime) -> tuple[int, ...]:
            if every == "daily":
                return (ts.year, ts.month, ts.day)
            if every == "weekly":
                return tuple(ts.isocalendar()[:2])
            if every == "monthly":
                return (ts.year, ts.month)
            return (ts.year, (ts.month - 1) // 3)

        keys = [period(ts) for ts in timestamps]
        due[:-1] = [a != b for a, b in zip(keys[:-1], keys[1:])]
    due[:lookback] = False
    due[-1] = False
    return due


@dataclass
class Target:
    """One allocation: the bar, the policy's weights (summing to B), each sleeve's share of the
    sleeves' equity before the move, and what the policy weighed (per sleeve, NaN if nothing)."""

    bar: int
    weights: np.ndarray
    share_before: np.ndarray
    statistic: np.ndarray


class Allocation:
    """A run's allocation policy: `policy` (a name or an allocator object), the configured weights
    (summing to the budget B), `lookback`, and the bounds. `targets(window)` checks what the
    policy returns (AllocationError naming the policy and bar) and applies the bounds."""

    def __init__(self, policy: Any, configured: Sequence[float], lookback: int, lower: float, upper: float):
        self.name = policy_name(policy)
        self.allocator = get_allocator(policy)
        if isinstance(self.allocator, MinVariance):
            self.allocator.lower, self.allocator.upper = lower, upper
        self.configured = np.asarray(configured, dtype=float)
        self.budget = float(self.configured.sum())
        self.lookback = lookback
        self.lower, self.upper = lower, upper

    @property
    def active(self) -> bool:
        """Whether capital ever moves (not `fixed`)."""
        return not isinstance(self.allocator, Fixed)

    def targets(self, window: AllocationWindow) -> tuple[np.ndarray, np.ndarray]:
        """(target weights, statistic) for `window`, bounds applied."""
        try:
            raw = self.allocator.weights(window)
            weights = np.asarray(raw, dtype=float).reshape(-1)
        except AllocationError:
            raise
        except Exception as exc:  # a user's allocator may raise anything
            raise AllocationError(self.name, window, f"raised {type(exc).__name__}: {exc}") from exc
        n, budget = len(window.ids), window.budget
        if weights.shape != (n,):
            raise AllocationError(self.name, window, f"returned {weights.size} weights for {n} sleeves")
        if not np.all(np.isfinite(weights)):
            raise AllocationError(self.name, window, f"returned weights that are not finite: {weights.tolist()}")
        if np.any(weights < 0):
            raise AllocationError(self.name, window, f"returned negative weights: {weights.tolist()}")
        if abs(weights.sum() - budget) > SUM_TOLERANCE * max(budget, 1.0):
            raise AllocationError(self.name, window, f"returned weights summing to {weights.sum():.12g}, not the "
                                  f"budget {budget:.12g}")
        statistic = getattr(self.allocator, "statistic", None)
        stat = np.full(n, np.nan)
        if isinstance(self.allocator, _Builtin) and statistic is not None:
            stat = np.asarray(statistic(window), dtype=float)
        weights = clip_to_bounds(weights, budget, self.lower, self.upper)  # min_variance's already hold
        return weights, stat


class AllocationError(SqlorchError):
    """An allocation policy failed or returned bad weights on an allocation date."""

    def __init__(self, name: str, window: AllocationWindow, what: str):
        when = f"{window.ts:%Y-%m-%d}" if window.ts is not None else f"bar {window.bar}"
        super().__init__(f"allocation policy {name!r} at {when} (bar {window.bar}) {what}; it must return one finite "
                         f"weight >= 0 per sleeve, summing to the budget {window.budget:g}")
        self.policy = name
