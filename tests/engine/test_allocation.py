"""Allocation policies' math (sqlorch.engine.allocation, SPEC §7).

The expected targets of the hand-built case were computed without sqlorch, in a throwaway script:
numpy's ddof=1 covariance, scipy's fsolve on the risk-parity equations, min variance by
enumerating every active set of the bounds (3^3) with exact linear solves, the clipping rule by
brentq on lambda in sum(clip(lambda x w)) = B. Risk parity's equal risk contributions and min
variance's KKT conditions are checked on random covariance matrices (hypothesis).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlorch.engine import allocation as A
from sqlorch.engine.allocation import Allocation, AllocationError, AllocationWindow

RETURNS = np.array([[0.01, 0.002, -0.01], [-0.02, 0.001, 0.03], [0.015, -0.003, 0.02], [0.005, 0.004, -0.015],
                    [-0.01, 0.0, 0.01]])
BUDGET = 0.9
CONFIGURED = np.array([0.3, 0.3, 0.3])
IDS = ("a", "b", "c")


def window(returns=RETURNS, configured=CONFIGURED, budget=BUDGET) -> AllocationWindow:
    n = returns.shape[1]
    return AllocationWindow(returns, IDS[:n] if n <= 3 else tuple(f"s{i}" for i in range(n)), configured,
                            configured.copy(), budget, 5, dt.datetime(2020, 1, 31))


def targets(policy, lower=0.0, upper=1.0, w=None):
    return Allocation(policy, CONFIGURED, 5, lower, upper).targets(w or window())


EXPECTED = {
    "fixed": [0.3, 0.3, 0.3],
    "equal": [0.3, 0.3, 0.3],
    "inverse_volatility": [0.12179320184473173, 0.6859068083553624, 0.09229998979990585],
    "risk_parity": [0.10164712264367723, 0.6901238753326011, 0.10822900202372161],
    "min_variance": [0.09325429544124686, 0.7034017766902495, 0.1033439278685037],
    "momentum": [0.0, 0.0927865909312874, 0.8072134090687125],
}


@pytest.mark.parametrize("policy", list(EXPECTED))
def test_each_policy_on_the_hand_built_case(policy) -> None:
    weights, _ = targets(policy)
    np.testing.assert_allclose(weights, EXPECTED[policy], rtol=1e-9, atol=1e-12)
    assert weights.sum() == pytest.approx(BUDGET, rel=1e-12)


def test_statistics_are_what_the_policy_weighed() -> None:
    np.testing.assert_allclose(targets("inverse_volatility")[1],
                               [0.01457737973711325, 0.002588435821108957, 0.019235384061671346], rtol=1e-12)
    np.testing.assert_allclose(targets("momentum")[1],
                               [-0.00042646735000029246, 0.0039929659760000735, 0.03473751590000007], rtol=1e-9)
    assert np.isnan(targets("equal")[1]).all()


def test_min_variance_under_bounds() -> None:
    weights, _ = targets("min_variance", 0.1, 0.6)
    np.testing.assert_allclose(weights, [0.15767241379310348, 0.6, 0.14232758620689656], rtol=1e-9)


def test_bounds_clip_and_give_the_excess_in_proportion() -> None:
    # worked by hand: 0.5 -> 0.4 and 0.05 -> 0.1; the remaining 0.5 goes to 0.3 : 0.15 as 1/3 : 1/6
    clipped = A.clip_to_bounds(np.array([0.5, 0.3, 0.15, 0.05]), 1.0, 0.1, 0.4)
    np.testing.assert_allclose(clipped, [0.4, 1 / 3, 1 / 6, 0.1], rtol=1e-12)
    # a clipped sleeve pulls the next one under its bound: 0.9 -> 0.5, then 0.1 -> 0.3 and 0 -> 0.3 leave 0.4
    np.testing.assert_allclose(A.clip_to_bounds(np.array([0.9, 0.1, 0.0]), 1.0, 0.3, 0.5), [0.4, 0.3, 0.3])
    # zero weights share what the capped ones leave equally
    np.testing.assert_allclose(A.clip_to_bounds(np.array([1.0, 0.0, 0.0]), 1.0, 0.0, 0.5), [0.5, 0.25, 0.25])
    # momentum (0, 0.0928, 0.8072) in [0.05, 0.7]: 0.7 and 0.05 fixed, the middle one takes the rest
    np.testing.assert_allclose(targets("momentum", 0.05, 0.7)[0], [0.05, 0.15, 0.7], rtol=1e-12)


@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8), st.floats(0.05, 1.0), st.data())
def test_clipping_always_meets_the_bounds_and_the_budget(raw, budget, data) -> None:
    n = len(raw)
    lower = data.draw(st.floats(0.0, budget / n))
    upper = data.draw(st.floats(budget / n, 1.0))
    w = np.array(raw)
    w = w / w.sum() * budget if w.sum() > 0 else np.full(n, budget / n)
    out = A.clip_to_bounds(w, budget, lower, upper)
    assert out.sum() == pytest.approx(budget, rel=1e-9, abs=1e-12)
    assert (out >= lower - 1e-12).all() and (out <= upper + 1e-12).all()


def test_a_sleeve_without_volatility_keeps_its_configured_weight() -> None:
    flat = RETURNS.copy()
    flat[:, 1] = 0.0  # it held nothing
    configured = np.array([0.2, 0.5, 0.2])
    for policy in ("inverse_volatility", "risk_parity", "min_variance", "momentum"):
        weights, _ = Allocation(policy, configured, 5, 0.0, 1.0).targets(window(flat, configured))
        assert weights[1] == 0.5, policy
        assert weights.sum() == pytest.approx(BUDGET, rel=1e-12), policy
    # inverse volatility shares the rest (0.4) between a and c as 1/sd
    weights, _ = Allocation("inverse_volatility", configured, 5, 0.0, 1.0).targets(window(flat, configured))
    np.testing.assert_allclose(weights[[0, 2]], 0.4 * np.array([1 / 0.01457737973711325, 1 / 0.019235384061671346]) /
                               (1 / 0.01457737973711325 + 1 / 0.019235384061671346), rtol=1e-12)
    # nobody moved at all: the configured weights
    weights, _ = Allocation("risk_parity", configured, 5, 0.0, 1.0).targets(window(np.zeros((5, 3)), configured))
    np.testing.assert_array_equal(weights, configured)


def test_momentum_without_a_gain_keeps_the_configured_weights() -> None:
    configured = np.array([0.2, 0.5, 0.2])
    losses = -np.abs(RETURNS)
    weights, _ = Allocation("momentum", configured, 5, 0.0, 1.0).targets(window(losses, configured))
    np.testing.assert_allclose(weights, configured)


def covariances():
    @st.composite
    def draw(draw_):
        n = draw_(st.integers(2, 8))
        rows = draw_(st.integers(n, n + 30))
        seed = draw_(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        scales = rng.uniform(0.002, 0.05, n)
        returns = rng.normal(size=(rows, n)) * scales
        mix = rng.normal(size=(n, n)) * draw_(st.floats(0.0, 1.0))
        returns = returns @ (np.eye(n) + mix)
        return np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)), rng
    return draw()


@settings(max_examples=200, deadline=None)
@given(covariances(), st.floats(0.1, 1.0))
def test_risk_parity_contributions_are_equal(case, budget) -> None:
    cov, _ = case
    w = A.risk_parity(cov, budget)
    n = len(w)
    contributions = w * (cov @ w)
    assert (w >= 0).all() and w.sum() == pytest.approx(budget, rel=1e-12)  # > 0 unless S is singular
    # rtol 1e-10; the absolute floor only matters where S is singular or nearly so (as few returns
    # as sleeves): contributions of 1e-8 are then differences of terms of 1e-2, and a float's last
    # bits in S w are 1e-7 of them (a drawn case: 1.2543460e-08 against 1.2543462e-08)
    np.testing.assert_allclose(contributions, w @ cov @ w / n, rtol=1e-10, atol=1e-12 * np.diag(cov).max() * budget**2)


@settings(max_examples=200, deadline=None)
@given(covariances(), st.floats(0.1, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_min_variance_meets_its_kkt_conditions(case, budget, a, b) -> None:
    cov, _ = case
    n = cov.shape[0]
    lower, upper = a * budget / n, budget / n + b * (budget - budget / n)
    w = A.min_variance(cov, budget, lower, upper)
    assert w.sum() == pytest.approx(budget, rel=1e-12)
    assert (w >= lower - 1e-14).all() and (w <= upper + 1e-14).all()
    if upper - lower < 1e-12:
        return  # one feasible point
    grad = 2 * cov @ w
    scale = max(np.abs(grad).max(), np.diag(cov).max() * budget)  # the gradient's size, or what it could be
    at_lower, at_upper = w <= lower + 1e-12, w >= upper - 1e-12
    free = ~(at_lower | at_upper)
    if free.any():
        nu = grad[free].mean()
        np.testing.assert_allclose(grad[free], nu, atol=1e-8 * scale, rtol=0)
    else:  # every weight at a bound: some multiplier fits all of them
        nu = max(grad[at_upper].max(initial=-np.inf), grad[at_lower].min(initial=np.inf))
        if not at_lower.any():
            nu = grad[at_upper].max()
    assert (grad[at_lower] - nu >= -1e-8 * scale).all()
    assert (grad[at_upper] - nu <= 1e-8 * scale).all()
    # and no feasible point nearby does better (a check of the KKT check)
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = rng.normal(size=n)
        d -= d.mean()
        other = np.clip(w + 1e-3 * budget * d, lower, upper)
        if abs(other.sum() - budget) < 1e-12:
            assert other @ cov @ other >= w @ cov @ w - 1e-15


def test_bad_bounds_are_reported() -> None:
    assert "lower min_weight" in A.bounds_problem(3, 0.9, 0.4, 1.0)
    assert "raise max_weight" in A.bounds_problem(3, 0.9, 0.0, 0.2)
    assert A.bounds_problem(3, 0.9, 0.3, 0.3) is None


class Bad:
    def __init__(self, result):
        self.result = result

    def weights(self, window):
        return self.result


@pytest.mark.parametrize(("result", "what"), [([0.5, 0.5], "2 weights for 3"), ([0.3, 0.3, float("nan")], "not finite"),
                                              ([1.0, -0.1, 0.0], "negative"), ([0.3, 0.3, 0.4], "summing to 1")])
def test_a_custom_allocator_returning_bad_weights_is_an_error_naming_it(result, what) -> None:
    A.register_allocator("bad_one", Bad(result))
    with pytest.raises(AllocationError, match=rf"'bad_one' at 2020-01-31 \(bar 5\).*{what}"):
        Allocation("bad_one", CONFIGURED, 5, 0.0, 1.0).targets(window())


def test_registering_checks_the_shape() -> None:
    with pytest.raises(TypeError, match="weights"):
        A.register_allocator("shapeless", object())
    with pytest.raises(ValueError, match="built-in"):
        A.register_allocator("equal", Bad([0.3, 0.3, 0.3]))
    with pytest.raises(ValueError, match="did you mean 'risk_parity'"):
        A.get_allocator("risk_parit")


def test_allocation_dates() -> None:
    days = [dt.datetime(2020, 1, 1) + dt.timedelta(days=k) for k in range(100)]
    monthly = A.allocation_dates(days, "monthly", 5)
    assert [days[t].date().isoformat() for t in np.flatnonzero(monthly)] == ["2020-01-31", "2020-02-29",
                                                                              "2020-03-31"]
    assert np.flatnonzero(A.allocation_dates(days, 30, 5)).tolist() == [30, 60, 90]
    assert np.flatnonzero(A.allocation_dates(days, 30, 31)).tolist() == [60, 90]  # 31 returns exist from bar 31
    assert not A.allocation_dates(days, "daily", 5)[-1]  # the last bar: nothing could trade after it
    weekly = np.flatnonzero(A.allocation_dates(days, "weekly", 0))
    assert all(days[t].weekday() == 6 for t in weekly)  # every day here: Sunday ends an ISO week
    quarterly = np.flatnonzero(A.allocation_dates(days, "quarterly", 0))
    assert [days[t].date().isoformat() for t in quarterly] == ["2020-03-31"]
