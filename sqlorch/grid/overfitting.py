"""How much of a search's best result is luck (SPEC §9): the moments of a trial's per-bar
returns, the probabilistic and deflated Sharpe ratios, and the probability of backtest
overfitting by combinatorially symmetric cross-validation. numpy, with CSCV's loop over its
splits compiled by numba (cached on disk); Phi and its inverse are the standard library's
`statistics.NormalDist` (no scipy).

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

import functools
import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numba import njit

EULER_GAMMA = 0.5772156649015329
"""The Euler-Mascheroni constant of the expected maximum Sharpe ratio (SPEC §9: 0.5772156649)."""
PBO_BLOCKS = 16
"""CSCV's default number of blocks S: C(16, 8) = 12,870 splits."""
MOST_PBO_BLOCKS = 20
"""The most blocks: C(20, 10) = 184,756 splits; each two more blocks multiply them by about four."""
_NORMAL = NormalDist()


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
    rows have fewer returns than blocks), from one compiled pass over `returns` [trials, bars]."""
    returns = np.ascontiguousarray(returns, dtype=np.float64)
    summed = blocks is not None and returns.shape[1] >= blocks
    bounds = block_bounds(returns.shape[1], blocks) if summed else np.zeros(2, dtype=np.int64)
    moments, sums = _trial_sums(returns, bounds)
    count, mean, m2, m3, m4 = moments
    with np.errstate(invalid="ignore", divide="ignore"):
        stdev = np.where(count > 1, np.sqrt(m2 * count / np.maximum(count - 1, 1)), np.nan)
        flat = ~(m2 > 0)
        skewness = np.where(flat, np.nan, m3 / np.where(flat, 1.0, m2) ** 1.5)
        kurtosis = np.where(flat, np.nan, m4 / np.where(flat, 1.0, m2) ** 2)
    return (count.astype(np.int64), mean, stdev, skewness, kurtosis), sums if summed else None


@njit(cache=True, nogil=True, error_model="numpy")
def _trial_sums(returns: np.ndarray, bounds: np.ndarray) -> tuple:
    """([5, trials]: count of defined returns, mean, and the population central moments m2, m3,
    m4 (NaN returns skipped); [3, blocks, trials]: per block between `bounds`, the count of
    defined returns, their sum and the sum of their squared deviations from the trial's mean)."""
    trials, bars = returns.shape
    blocks = bounds.shape[0] - 1
    moments = np.full((5, trials), np.nan)
    sums = np.zeros((3, blocks, trials))
    for i in range(trials):
        row = returns[i]
        count, total = 0, 0.0
        for r in row:
            if r == r:
                count += 1
                total += r
        mean = total / count if count > 0 else np.nan
        m2 = m3 = m4 = 0.0
        for b in range(blocks + 1):  # the blocks, then any returns after them (none when summed)
            first, last = (bounds[b], bounds[b + 1]) if b < blocks else (bounds[blocks], bars)
            defined, part, squares = 0, 0.0, 0.0
            for t in range(first, last):
                r = row[t]
                if r == r:
                    centred = r - mean
                    square = centred * centred
                    defined += 1
                    part += centred
                    squares += square
                    m3 += square * centred
                    m4 += square * square
            m2 += squares
            if b < blocks:
                sums[0, b, i], sums[1, b, i], sums[2, b, i] = defined, part, squares
        moments[0, i] = count
        moments[1, i] = mean
        scale = max(count, 1)
        moments[2, i], moments[3, i], moments[4, i] = m2 / scale, m3 / scale, m4 / scale
        if mean == mean:
            for b in range(blocks):  # sums of the returns themselves; the squares stay centred
                sums[1, b, i] += sums[0, b, i] * mean
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


CSCV_THREADS = max(1, min(4, os.cpu_count() or 1))
"""Threads the PBO's splits are shared among (the compiled loop runs without the GIL)."""


@functools.lru_cache(maxsize=4)
def splits(blocks: int) -> np.ndarray:
    """[C(S, S/2), S] booleans: every choice of half the `blocks` as the in-sample ones, in
    `itertools.combinations` order (made once per process and count; read-only)."""
    chosen = np.array(list(itertools.combinations(range(blocks), blocks // 2)), dtype=np.int64)
    mask = np.zeros((len(chosen), blocks), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=1)
    mask.flags.writeable = False
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
    i-th of C combinations is the (C - 1 - i)-th), so each half's Sharpe ratios are computed once,
    in compiled code (`_cscv`)."""
    sums = np.ascontiguousarray(sums, dtype=np.float64)
    _, blocks, trials = sums.shape
    mask = splits(blocks)
    total = len(mask)
    best = np.full(total, -1, dtype=np.int64)
    in_sample, out_of_sample, rank = (np.full(total, np.nan) for _ in range(3))
    if trials < 2 or (sums[0] == 0).all(axis=1).any():
        return PboResult(math.nan, best, in_sample, out_of_sample, rank, np.full(total, np.nan))
    assert (mask[::-1] == ~mask).all()
    chosen = np.nonzero(mask[:total // 2])[1].reshape(total // 2, blocks // 2).astype(np.int64)
    pairs = total // 2
    bounds = np.linspace(0, pairs, min(CSCV_THREADS, pairs) + 1).astype(np.int64)

    def part(k: int) -> None:  # the compiled loop releases the GIL: the parts run at once
        _cscv(chosen[bounds[k]:bounds[k + 1]], bounds[k], pairs, sums[0], sums[1], sums[2], float(excess), best,
              in_sample, out_of_sample, rank)

    with ThreadPoolExecutor(len(bounds) - 1) as pool:
        list(pool.map(part, range(len(bounds) - 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        w = rank / (trials + 1)
        logit = np.log(w / (1 - w))
    defined = best >= 0
    share = float((logit[defined] <= 0).mean()) if defined.any() else math.nan
    return PboResult(share, best, in_sample, out_of_sample, rank, logit)


@njit(cache=True, nogil=True, error_model="numpy")
def _cscv(chosen: np.ndarray, offset: int, total_pairs: int, count: np.ndarray, total: np.ndarray,
          squares: np.ndarray, excess: float, best: np.ndarray, in_sample: np.ndarray, out_of_sample: np.ndarray,
          rank: np.ndarray) -> None:
    """Fill `pbo`'s per-split arrays (best, in_sample, out_of_sample, rank; C = 2 P of them) from
    the in-sample blocks `chosen` [pairs, S/2] of splits offset .. offset + pairs - 1 of the first
    P = `total_pairs` and the block sums [S, N]: split p and its complement C - 1 - p share their
    two halves' Sharpe ratios."""
    blocks, trials = count.shape
    pairs, half = chosen.shape
    all_count, all_total, all_squares = count.sum(axis=0), total.sum(axis=0), squares.sum(axis=0)
    centre = np.where(all_count > 0, all_total / np.maximum(all_count, 1.0), 0.0)
    # the sums over the first d blocks of the current split, kept from the previous split as far
    # as the two agree: consecutive splits in lexicographic order mostly differ in their last blocks
    n, s, q = np.zeros((half + 1, trials)), np.zeros((half + 1, trials)), np.zeros((half + 1, trials))
    first, second = np.empty(trials), np.empty(trials)
    for p in range(pairs):
        same = 0
        while p > 0 and same < half and chosen[p, same] == chosen[p - 1, same]:
            same += 1
        for d in range(same, half):
            block = chosen[p, d]
            n[d + 1] = n[d] + count[block]
            s[d + 1] = s[d] + total[block]
            q[d + 1] = q[d] + squares[block]
        _sharpe(n[half], s[half], q[half], centre, excess, first)
        _sharpe(all_count - n[half], all_total - s[half], all_squares - q[half], centre, excess, second)
        _best_ranked(first, second, offset + p, best, in_sample, out_of_sample, rank)
        _best_ranked(second, first, 2 * total_pairs - 1 - offset - p, best, in_sample, out_of_sample, rank)


@njit(cache=True, nogil=True, error_model="numpy")
def _sharpe(count: np.ndarray, total: np.ndarray, squares: np.ndarray, centre: np.ndarray, excess: float,
            out: np.ndarray) -> None:
    """Into `out`, per trial, the Sharpe ratio (mean - excess) / stdev (ddof 1) of `count` returns
    of sum `total` and sum of squared deviations from `centre` `squares`: NaN with fewer than 2;
    a zero stdev gives +-inf by the sign of the excess mean (NaN if 0), as the SQL macro `ratio`
    (IEEE division does exactly that)."""
    for j in range(len(out)):
        mean = total[j] / count[j]
        shifted = mean - centre[j]
        variance = max((squares[j] - count[j] * shifted * shifted) / (count[j] - 1.0), 0.0)
        out[j] = (mean - excess) / math.sqrt(variance) if count[j] >= 2 else np.nan


@njit(cache=True, nogil=True, error_model="numpy")
def _best_ranked(inside: np.ndarray, outside: np.ndarray, split: int, best: np.ndarray, in_sample: np.ndarray,
                 out_of_sample: np.ndarray, rank: np.ndarray) -> None:
    """For one split: the trial with the best `inside` Sharpe ratio (the first of equals; none if
    every one is undefined or -inf), its two Sharpe ratios and its rank among `outside`
    (ascending, ties averaged, undefined lowest)."""
    top = -np.inf
    for j in range(len(inside)):  # the highest, NaN left out; without branches, so that it vectorises
        top = max(top, inside[j] if inside[j] == inside[j] else -np.inf)
    if top == -np.inf:
        return
    chosen = 0
    while inside[chosen] != top:  # the first of equals
        chosen += 1
    own = outside[chosen]
    below, equal, undefined, lowest = 0, 0, 0, 0
    for j in range(len(outside)):  # without branches, so that it vectorises
        below += outside[j] < own
        equal += outside[j] == own
        undefined += outside[j] != outside[j]
        lowest += outside[j] == -np.inf
    if own != own or own == -np.inf:  # undefined ranks as -inf: lowest, tied with every -inf and undefined one
        below, equal = 0, lowest + undefined
    else:
        below += undefined
    best[split] = chosen
    in_sample[split] = inside[chosen]
    out_of_sample[split] = outside[chosen]
    rank[split] = below + (equal + 1) / 2


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


def warm() -> None:
    """Compile CSCV's kernels into numba's on-disk cache (`python -m sqlorch.grid.overfitting`,
    run by `make` beside the engine's), so that the first grid search compiles nothing."""
    pbo(block_sums(np.arange(8.0).reshape(2, 4) % 3, 2))


if __name__ == "__main__":
    warm()
    print("sqlorch: the PBO's kernels are ready")
