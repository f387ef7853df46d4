"""How much of a search's best result is luck (SPEC §9): the moments of a trial's per-bar
returns, the probabilistic and deflated Sharpe ratios, and the probability of backtest
overfitting by combinatorially symmetric cross-validation. Pure numpy; Phi and its inverse are
the standard library's `statistics.NormalDist` (no scipy).

References:
- Bailey, D. H. and Lopez de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier",
  Journal of Risk 15(2): the probabilistic Sharpe ratio
  PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)),
  with SR the per-bar Sharpe ratio, g3 the skewness and g4 the kurtosis (not excess).
- Bailey, D. H. and Lopez de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management
  40(5): DSR = PSR(SR*) with the expected maximum of N Sharpe ratios of variance V,
  SR* = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))).
- Bailey, D. H., Borwein, J., Lopez de Prado, M. and Zhu, Q. J. (2017), "The Probability of
  Backtest Overfitting", Journal of Computational Finance 20(4): CSCV and the PBO.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

EULER_GAMMA = 0.5772156649015329
"""The Euler-Mascheroni constant of the expected maximum Sharpe ratio (SPEC §9: 0.5772156649)."""
PBO_BLOCKS = 16
"""CSCV's default number of blocks S: C(16, 8) = 12,870 splits."""
MOST_PBO_BLOCKS = 20
"""The most blocks: C(20, 10) = 184,756 splits; each two more blocks multiply them by about four."""
_NORMAL = NormalDist()
_SPLIT_CELLS = 2_000_000  # splits x trials worked on at once by `pbo`


def probabilistic_sharpe_ratio(sharpe: float, count: float, skewness: float, kurtosis: float,
                               benchmark: float = 0.0) -> float:
    """PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)) (Bailey and
    Lopez de Prado 2012, eq. 11): the probability that the true Sharpe ratio exceeds `benchmark`
    (SR*), given the per-bar Sharpe ratio `sharpe` (not annualised) of `count` (T) returns with
    that skewness and kurtosis (not excess). NaN where undefined (a NaN or infinite input, T < 2,
    or a non-positive variance term)."""
    try:
        sharpe, count, skewness, kurtosis, benchmark = (float(v) for v in (sharpe, count, skewness, kurtosis,
                                                                             benchmark))
    except (TypeError, ValueError):  # None: undefined
        return math.nan
    if not all(math.isfinite(v) for v in (sharpe, count, skewness, kurtosis, benchmark)) or count < 2:
        return math.nan
    spread = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe ** 2
    if spread <= 0:
        return math.nan
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(count - 1) / math.sqrt(spread))


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR* = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))) (Bailey and Lopez
    de Prado 2014, eq. 2 with E[SR] = 0): the expected best per-bar Sharpe ratio of N = `trials`
    independent trials whose Sharpe ratios have variance V, if none has skill. 0 for N = 1; NaN
    for N < 1 or an undefined V."""
    if trials < 1 or not math.isfinite(variance) or variance < 0:
        return math.nan
    if trials == 1:
        return 0.0
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / trials)
                                  + EULER_GAMMA * _NORMAL.inv_cdf(1 - 1 / (trials * math.e)))


def deflated_sharpe_ratio(sharpe: float, count: float, skewness: float, kurtosis: float, trials: int,
                          variance: float) -> float:
    """DSR = PSR(SR*) with SR* = `expected_max_sharpe(trials, variance)` (Bailey and Lopez de
    Prado 2014, eq. 2): the probability that the best of `trials` trials has a true Sharpe ratio
    above 0 after correcting for having picked it among them. With one trial, PSR(0); NaN where
    undefined."""
    if trials == 1:
        return probabilistic_sharpe_ratio(sharpe, count, skewness, kurtosis)
    return probabilistic_sharpe_ratio(sharpe, count, skewness, kurtosis, expected_max_sharpe(trials, variance))


def block_bounds(count: int, blocks: int) -> np.ndarray:
    """The start of each of `blocks` contiguous blocks of `count` bars, and `count` (blocks + 1
    values): the first `count mod blocks` blocks get one bar more."""
    sizes = np.full(blocks, count // blocks, dtype=np.int64)
    sizes[:count % blocks] += 1
    return np.concatenate(([0], np.cumsum(sizes)))


def trial_statistics(returns: np.ndarray,
                     blocks: int | None = None) -> tuple[tuple[np.ndarray, ...], np.ndarray | None]:
    """`return_moments(returns)` and, with `blocks`, `block_sums(returns, blocks)` (None if the
    rows have fewer returns than blocks), from one pass over `returns` [trials, bars]."""
    returns = np.asarray(returns, dtype=np.float64)
    defined = ~np.isnan(returns)
    complete = bool(defined.all())
    count = np.full(returns.shape[0], returns.shape[1]) if complete else defined.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = (returns if complete else np.where(defined, returns, 0.0)).sum(axis=1)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        centred = returns - mean[:, None]
        if not complete:
            centred[~defined] = 0.0
        squares = centred * centred
        m2 = squares.sum(axis=1) / np.maximum(count, 1)
        m3 = np.einsum("ij,ij->i", squares, centred) / np.maximum(count, 1)
        m4 = np.einsum("ij,ij->i", squares, squares) / np.maximum(count, 1)
        stdev = np.where(count > 1, np.sqrt(m2 * count / np.maximum(count - 1, 1)), np.nan)
        flat = ~(m2 > 0)
        skewness = np.where(flat, np.nan, m3 / np.where(flat, 1.0, m2) ** 1.5)
        kurtosis = np.where(flat, np.nan, m4 / np.where(flat, 1.0, m2) ** 2)
    moments = (count, mean, stdev, skewness, kurtosis)
    if blocks is None or returns.shape[1] < blocks:
        return moments, None
    starts = block_bounds(returns.shape[1], blocks)[:-1]
    sums = np.empty((3, blocks, returns.shape[0]))
    sums[0] = np.diff(block_bounds(returns.shape[1], blocks))[:, None] if complete else \
        np.add.reduceat(defined, starts, axis=1, dtype=np.float64).T
    sums[1] = np.add.reduceat(centred, starts, axis=1).T
    sums[2] = np.add.reduceat(squares, starts, axis=1).T
    sums[1] += sums[0] * np.nan_to_num(mean)  # sums of the returns themselves; the squares stay centred
    return moments, sums


def return_moments(returns: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row of `returns` [trials, bars] (NaN = undefined, skipped): (count, mean, stdev with
    ddof 1, skewness = m3 / m2^1.5, kurtosis = m4 / m2^2), m_k the population central moments
    (kurtosis not excess: 3 for a normal distribution). NaN where undefined (mean: no return;
    stdev: fewer than 2; skewness and kurtosis: m2 = 0)."""
    return trial_statistics(returns)[0]


def block_sums(returns: np.ndarray, blocks: int) -> np.ndarray | None:
    """[3, blocks, trials]: per block of `block_bounds` and trial (a row of `returns` [trials,
    bars], NaN skipped), the count of returns, their sum, and the sum of their squared deviations
    from the trial's mean over all its returns (so that `pbo` loses no precision to
    cancellation). None with fewer bars than blocks."""
    return trial_statistics(returns, blocks)[1]


@dataclass(frozen=True)
class PboResult:
    """CSCV's outcome: `pbo` (NaN if undefined), and per split (C(S, S/2) of them, in
    `itertools.combinations` order of the in-sample blocks) the trial with the best in-sample
    Sharpe ratio (`best`, index into the trials; -1 if no trial has a defined one), its in-sample
    and out-of-sample per-bar Sharpe ratios, its out-of-sample rank (1 = worst of N, ties
    averaged) and the logit ln(w / (1 - w)), w = rank / (N + 1)."""

    pbo: float
    best: np.ndarray
    in_sample: np.ndarray
    out_of_sample: np.ndarray
    rank: np.ndarray
    logit: np.ndarray


def splits(blocks: int) -> np.ndarray:
    """[C(S, S/2), S] booleans: every choice of half the `blocks` as the in-sample ones, in
    `itertools.combinations` order."""
    chosen = np.array(list(itertools.combinations(range(blocks), blocks // 2)), dtype=np.int64)
    mask = np.zeros((len(chosen), blocks), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=1)
    return mask


def pbo(sums: np.ndarray, excess: float = 0.0) -> PboResult:
    """The probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado and Zhu
    2017) from `block_sums` [3, S, N] of N trials' per-bar returns: for each way to take S/2
    blocks as in-sample, the trial with the best in-sample Sharpe ratio (mean - `excess`) /
    stdev (ddof 1; ties to the earlier trial; undefined ratios never best) is ranked among all N
    by their out-of-sample Sharpe ratios (ascending, ties averaged, undefined ratios lowest);
    w = rank / (N + 1) and PBO = the share of splits with ln(w / (1 - w)) <= 0. NaN with fewer than
    2 trials, an empty block, or no split with a defined in-sample best.

    The out-of-sample half of a split is the in-sample half of another (the complement of the
    i-th of C combinations is the (C - 1 - i)-th), so each half's Sharpe ratios are computed once."""
    sums = np.asarray(sums, dtype=np.float64)
    _, blocks, trials = sums.shape
    mask = splits(blocks)
    total = len(mask)
    best = np.full(total, -1)
    in_sample, out_of_sample, rank = (np.full(total, np.nan) for _ in range(3))
    if trials < 2 or (sums[0] == 0).all(axis=1).any():
        return PboResult(math.nan, best, in_sample, out_of_sample, rank, np.full(total, np.nan))
    assert (mask[::-1] == ~mask).all()
    all_count = sums[0].sum(axis=0)
    centre = np.where(all_count > 0, sums[1].sum(axis=0) / np.maximum(all_count, 1), 0.0)
    step = max(1, _SPLIT_CELLS // trials)
    for k in range(0, total // 2, step):
        front = np.arange(k, min(k + step, total // 2))
        back = total - 1 - front
        first, second = (_sharpe(mask[rows].astype(np.float64), sums, centre, excess) for rows in (front, back))
        for rows, inside, outside in ((front, first, second), (back, second, first)):
            best[rows], in_sample[rows], out_of_sample[rows], rank[rows] = _best_ranked(inside, outside)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = rank / (trials + 1)
        logit = np.log(w / (1 - w))
    chosen = best >= 0
    share = float((logit[chosen] <= 0).mean()) if chosen.any() else math.nan
    return PboResult(share, best, in_sample, out_of_sample, rank, logit)


def _best_ranked(inside: np.ndarray, outside: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per split (a row of the in-sample and out-of-sample Sharpe ratios [splits, trials]): the
    best in-sample trial (-1 if none is defined), its two Sharpe ratios and its out-of-sample rank."""
    rows = np.arange(len(inside))
    ordered_in = np.where(np.isnan(inside), -np.inf, inside)
    best = np.argmax(ordered_in, axis=1)  # the first of equals: the earlier trial
    defined = ordered_in[rows, best] > -np.inf
    ordered_out = np.where(np.isnan(outside), -np.inf, outside)
    own = ordered_out[rows, best][:, None]
    rank = (ordered_out < own).sum(axis=1) + ((ordered_out == own).sum(axis=1) + 1) / 2
    return (np.where(defined, best, -1), np.where(defined, inside[rows, best], np.nan),
            np.where(defined, outside[rows, best], np.nan), np.where(defined, rank, np.nan))


def _sharpe(chosen: np.ndarray, sums: np.ndarray, centre: np.ndarray, excess: float) -> np.ndarray:
    """Per-bar Sharpe ratios [splits, trials] over the blocks `chosen` [splits, S] (1.0 or 0.0)
    from `block_sums` and each trial's overall mean `centre`: a zero stdev gives +-inf by the
    sign of the excess mean (NaN if it is 0), as the SQL macro `ratio`."""
    count, total, squares = chosen @ sums[0], chosen @ sums[1], chosen @ sums[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        shifted = mean - centre  # the mean about the trial's overall mean
        variance = np.where(count > 1, np.maximum((squares - count * shifted * shifted) / (count - 1), 0.0), np.nan)
        sd = np.sqrt(variance)
        excess_mean = mean - excess
        sharpe = excess_mean / sd
    zero = sd == 0
    if zero.any():
        sharpe[zero] = np.where(excess_mean[zero] > 0, np.inf, np.where(excess_mean[zero] < 0, -np.inf, np.nan))
    return sharpe


def check_trial_options(study: Any, min_trades: Any, pbo_blocks: Any, prefix: str = "") -> list[str]:
    """The problems with a search's `study`, `min_trades` and `pbo_blocks` (`prefix` names
    where they were given, e.g. "[grid] ")."""
    problems = []
    if study is not None and not (isinstance(study, str) and study.strip()):
        problems.append(f"{prefix}study: must be a non-empty name, like \"momentum\", got {study!r}")
    if isinstance(min_trades, bool) or not isinstance(min_trades, int) or min_trades < 0:
        problems.append(f"{prefix}min_trades: must be a whole number >= 0, got {min_trades!r}")
    if isinstance(pbo_blocks, bool) or not isinstance(pbo_blocks, int) or pbo_blocks < 2 or pbo_blocks % 2 \
            or pbo_blocks > MOST_PBO_BLOCKS:
        problems.append(f"{prefix}pbo_blocks: must be an even whole number from 2 to {MOST_PBO_BLOCKS} "
                        f"(default {PBO_BLOCKS}), got {pbo_blocks!r}")
    return problems
