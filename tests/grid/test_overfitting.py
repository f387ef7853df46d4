"""sqlorch.grid.overfitting against numbers worked out independently: a throwaway script with
scipy (`scipy.stats.skew`, `kurtosis(fisher=False)`, `norm.cdf`/`ppf`, `rankdata`) written
straight from the papers' formulas, looping over every CSCV split with `numpy.array_split`
blocks; and the worked example of Bailey and Lopez de Prado (2014). The data are exact integer
LCG draws, the same on every platform."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sqlorch.grid.overfitting import (
    block_bounds,
    block_sums,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo,
    probabilistic_sharpe_ratio,
    return_moments,
    splits,
)
from sqlorch.money import FLOAT_TOLERANCE


def lcg(count: int, seed: int) -> list[float]:
    """count uniforms in [0, 1) from x <- (1103515245 x + 12345) mod 2^31."""
    x, out = seed, []
    for _ in range(count):
        x = (1103515245 * x + 12345) % 2**31
        out.append(x / 2**31)
    return out


def noise(bars: int, trials: int, seed: int) -> np.ndarray:
    """[bars, trials] of (u1 + u2 + u3 - 1.5) * 2: zero mean, roughly normal."""
    u = lcg(3 * bars * trials, seed)
    return np.array([(u[3 * k] + u[3 * k + 1] + u[3 * k + 2] - 1.5) * 2
                     for k in range(bars * trials)]).reshape(bars, trials)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)


def skewed() -> np.ndarray:
    u = noise(250, 1, 7)[:, 0]
    return -0.0013 + 0.01 * u + 0.004 * np.maximum(u, 0) ** 2


def test_moments_are_population_skewness_and_kurtosis_not_excess():
    count, mean, stdev, skewness, kurtosis = (m[0] for m in return_moments(skewed()[None, :]))
    assert count == 250
    assert close(mean, 0.0006699847931940342)
    assert close(stdev, 0.012804014036210351)  # ddof 1
    assert close(skewness, 1.186463423640406)
    assert close(kurtosis, 5.323122994562857)  # scipy kurtosis(fisher=False): 3 would be normal


def test_moments_skip_undefined_returns_and_are_nan_for_a_flat_series():
    series = skewed()
    holes = np.concatenate([series[:100], [np.nan], series[100:]])[None, :]
    assert all(close(a[0], b[0]) for a, b in zip(return_moments(holes), return_moments(series[None, :])))
    count, mean, stdev, skewness, kurtosis = (m[0] for m in return_moments(np.zeros((1, 5))))
    assert (count, mean, stdev) == (5, 0.0, 0.0) and math.isnan(skewness) and math.isnan(kurtosis)


def test_probabilistic_sharpe_ratio():
    count, mean, stdev, skewness, kurtosis = (m[0] for m in return_moments(skewed()[None, :]))
    sharpe = mean / stdev
    assert close(sharpe, 0.05232615266581916)
    assert close(probabilistic_sharpe_ratio(sharpe, count, skewness, kurtosis), 0.8026820999436615)


@pytest.mark.parametrize("trials, variance, star, expected", [
    (1, 0.0004, 0.0, 0.8026820999436615),  # N = 1: PSR(0)
    (10, 0.0004, 0.031491966026915, 0.632668763565579),
    (100, 0.0004, 0.050612057864033694, 0.5111230034147963),
    (1000, 0.0001, 0.03255121513652723, 0.6261593110269503),
])
def test_deflated_sharpe_ratio(trials, variance, star, expected):
    count, mean, stdev, skewness, kurtosis = (m[0] for m in return_moments(skewed()[None, :]))
    assert close(expected_max_sharpe(trials, variance), star)
    assert close(deflated_sharpe_ratio(mean / stdev, count, skewness, kurtosis, trials, variance), expected)


def test_deflated_sharpe_ratio_of_the_papers_example():
    """Bailey and Lopez de Prado (2014), section 6: an annualised Sharpe ratio of 2.5 over 1,250
    daily returns, skewness -3, kurtosis 10, N = 100 trials whose annualised Sharpe ratios have
    variance 0.5: SR* = 0.1132 (daily), DSR = 0.9004."""
    sharpe, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(100, variance) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_ratio(sharpe, 1250, -3, 10, 100, variance) == pytest.approx(0.9004, abs=5e-5)


def test_undefined_sharpe_ratios_give_nan_not_errors():
    assert math.isnan(probabilistic_sharpe_ratio(math.nan, 100, 0.0, 3.0))
    assert math.isnan(probabilistic_sharpe_ratio(math.inf, 100, 0.0, 3.0))
    assert math.isnan(probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0))
    assert math.isnan(deflated_sharpe_ratio(0.1, 100, 0.0, 3.0, 10, math.nan))


def test_blocks_give_the_first_bars_mod_blocks_one_more_bar():
    assert block_bounds(30, 4).tolist() == [0, 8, 16, 23, 30]
    assert block_bounds(32, 16).tolist() == list(range(0, 34, 2))
    assert splits(16).shape == (12870, 16) and (splits(16).sum(axis=1) == 8).all()
    assert block_sums(np.zeros((2, 10)), 16) is None  # fewer bars than blocks


def test_pbo_of_noise_with_small_differences_equals_the_independent_script():
    returns = 0.01 * noise(240, 12, 11) + 0.0002 * np.arange(12)
    result = pbo(block_sums(returns.T, 16))
    assert close(result.pbo, 0.3777000777000777)
    assert len(result.logit) == 12870
    first, last = 0, 12869
    assert (result.best[first], result.rank[first]) == (11, 10.0)
    assert close(result.in_sample[first], 0.2501890895606067)
    assert close(result.out_of_sample[first], 0.1415409604450421)
    assert close(result.logit[first], 1.2039728043259361)
    assert (result.best[last], result.rank[last]) == (6, 4.0)
    assert close(result.in_sample[last], 0.26722526396964646)
    assert close(result.out_of_sample[last], 0.0027635715583072037)
    assert close(result.logit[last], -0.8109302162163287)


def test_pbo_is_zero_when_one_trial_is_better_everywhere():
    returns = 0.01 * noise(320, 8, 3)
    returns[:, 3] += 0.01
    result = pbo(block_sums(returns.T, 16))
    assert result.pbo == 0.0
    assert (result.best == 3).all() and (result.rank == 8).all()
    assert close(result.logit.min(), 2.0794415416798353)  # ln(8/9 / (1/9)) = ln 8


def test_pbo_is_one_for_noise_whose_in_sample_winner_loses_out_of_sample():
    """Every trial's full-sample mean is 0: what wins in sample loses out of sample."""
    returns = 0.01 * noise(320, 8, 5)
    returns -= returns.mean(axis=0)
    assert pbo(block_sums(returns.T, 16)).pbo == 1.0


def test_pbo_with_four_blocks_of_uneven_length():
    returns = 0.01 * noise(30, 5, 9) + 0.001 * np.array([0, 1, 2, 0, 1])
    result = pbo(block_sums(returns.T, 4))
    assert result.pbo == 0.5
    assert result.best.tolist() == [4, 4, 0, 2, 0, 0]
    assert result.rank.tolist() == [2.0, 4.0, 2.0, 1.0, 4.0, 4.0]
    expected_in = [0.4118769291582288, 0.09174994643620434, 0.1862099895173401, 0.4292932131825571,
                   0.15434213965629584, 0.5180520926662823]
    expected_out = [-0.16237630352749058, 0.14752193054949866, 0.03745525174159704, -1.0253793802689508,
                    0.06755230345003208, -0.08508030087445552]
    assert all(close(a, b) for a, b in zip(result.in_sample, expected_in))
    assert all(close(a, b) for a, b in zip(result.out_of_sample, expected_out))


def test_pbo_ties_go_to_the_earlier_trial_and_are_averaged_out_of_sample():
    returns = 0.01 * noise(64, 3, 13)
    tied = np.column_stack([returns[:, 0], returns[:, 0], returns[:, 1]])  # trials 0 and 1 equal
    result = pbo(block_sums(tied.T, 4))
    assert 1 not in result.best.tolist()
    assert all(rank % 1 == 0.5 for rank, best in zip(result.rank, result.best) if best == 0)


def test_pbo_is_undefined_with_one_trial_or_an_empty_block():
    assert math.isnan(pbo(block_sums(noise(64, 1, 1).T, 4)).pbo)
    sums = block_sums(noise(64, 3, 1).T, 4)
    sums[:, 2, :] = 0.0  # no returns in block 3
    assert math.isnan(pbo(sums).pbo)


def test_a_trial_that_never_trades_is_never_the_in_sample_best_and_ranks_lowest():
    returns = np.column_stack([np.zeros(64), 0.01 * noise(64, 2, 21)])
    result = pbo(block_sums(returns.T, 4))
    assert 0 not in result.best.tolist()


def naive_pbo(returns: np.ndarray, blocks: int) -> tuple[float, list[int], list[float]]:
    """CSCV straight from the paper, for the property test: every split's rows concatenated, the
    Sharpe ratios of the submatrices by numpy, ranks by counting (undefined = -inf)."""
    import itertools

    bars, trials = returns.shape
    parts = np.array_split(np.arange(bars), blocks)

    def sharpe(rows: np.ndarray) -> np.ndarray:
        block = returns[rows]
        mean, sd = block.mean(axis=0), block.std(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(sd > 0, mean / sd, np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, np.nan)))
        return np.where(np.isnan(out), -np.inf, out)

    logits, best, ranks = [], [], []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        inside = sharpe(np.concatenate([parts[b] for b in chosen]))
        outside = sharpe(np.concatenate([parts[b] for b in range(blocks) if b not in chosen]))
        if inside.max() == -np.inf:
            best.append(-1)
            ranks.append(math.nan)
            continue
        j = int(np.argmax(inside))
        rank = (outside < outside[j]).sum() + ((outside == outside[j]).sum() + 1) / 2
        w = rank / (trials + 1)
        logits.append(math.log(w / (1 - w)))
        best.append(j)
        ranks.append(float(rank))
    return (float(np.mean(np.array(logits) <= 0)) if logits else math.nan), best, ranks


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bars=st.integers(8, 60), trials=st.integers(2, 7),
       blocks=st.sampled_from([2, 4, 6, 8]), flat=st.booleans(), twin=st.booleans())
def test_pbo_equals_cscv_done_the_long_way(seed, bars, trials, blocks, flat, twin):
    assume(bars >= 2 * blocks)
    rng = np.random.default_rng(seed)
    returns = rng.normal(rng.normal(0, 0.002, trials), 0.01, (bars, trials))
    if flat:
        returns[:, 0] = 0.0  # a trial that never trades
    if twin:
        returns[:, -1] = returns[:, trials // 2]  # two equal trials: ties in and out of sample
    expected, best, ranks = naive_pbo(returns, blocks)
    result = pbo(block_sums(returns.T, blocks))
    assert result.best.tolist() == best
    assert np.allclose(result.rank, ranks, equal_nan=True)
    assert result.pbo == expected or (math.isnan(result.pbo) and math.isnan(expected))
