"""The compiled engine: the per-bar and per-order work of every run, in numba (SPEC §1, §3).

`run` steps the bars from `start` to the end: pending orders fill (at the open, or at the
close in close mode), drift is checked (or, on an allocation date, capital moves to the
allocation policy's targets: the same rebalance, see `track_sleeves`), and every strategy due is
asked for its signals, which become orders sized at the close. Compiled rules (`sqlorch.engine.rule.Rule`) decide here;
Python strategies, Python conflict resolvers and rebalancing plans are called back through
`objmode` (`sqlorch.engine.bridge`) only on the bars that need them; a Python strategy writes
its signals straight into buffers the engine reads. State and records are 2-D int64 arrays
laid out as `sqlorch.engine.layout` says; money is in micro units and quantities in
micro-shares (`sqlorch.engine.arith`).

`step` is the loop over bars. It never reassigns an array (numba would then count references
at every bar): when a record table lacks room for the next part of a bar, or a rebalance is
due, it pauses, and `run` grows the table (or rebalances) and resumes it there. The functions
it calls are `hot`: they allocate nothing and are compiled without reference counting.
Records grown this way are returned.

The rules implemented here are the only copy of the trading rules: a backtest, an
orchestrated run and every grid combination run them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, objmode

from sqlorch.bars.panel import CLOSE, HIGH, LOW, OPEN
from sqlorch.engine import arith, bridge, layout
from sqlorch.engine.arith import commission as commission_of
from sqlorch.engine.arith import floor_share, notional, scaled
from sqlorch.engine.cache import forget_stale
from sqlorch.engine.layout import (
    ACCEPTED,
    BUY,
    CANCEL_BOTH,
    CANCELLED,
    CF_BAR,
    CF_COMMISSION,
    CF_CROSSED,
    CF_EVENT,
    CF_NET,
    CF_NETS,
    CF_PRICE,
    CF_SAVED,
    CF_STANDALONE,
    CF_SYMBOL,
    CLIPPED,
    CO_CONFLICT,
    CO_ORDER,
    CO_QUANTITY,
    CO_SLEEVE,
    CO_STOOD,
    CT_BARS,
    CT_CONFLICT_ORDERS,
    CT_CONFLICTS,
    CT_DEFERRED,
    CT_EVENT,
    CT_EXTRAS,
    CT_FILLS,
    CT_HELD,
    CT_OPTIONS,
    CT_ORDERS,
    CT_PHASE,
    CT_PROTECTED,
    CT_REBALANCES,
    CT_SIGNALS,
    CT_SLEEVE_AT,
    CT_STATUS,
    CT_STOP_BAR,
    CT_STOP_SLEEVE,
    CT_TRANSFERS,
    CT_WAITING,
    DONE,
    EX_EXPIRES,
    EX_PRICE,
    EX_SPEC,
    EX_TRIGGER,
    EX_TYPE,
    EXIT,
    EXPIRED,
    FAILED,
    FIRST_WINS,
    FL_BAR,
    FL_CASH,
    FL_COMMISSION,
    FL_ORDER,
    FL_PRICE,
    FL_QUANTITY,
    FL_REALIZED,
    FL_SLEEVE,
    FL_SYMBOL,
    LIMIT,
    NET_SIGNAL,
    OD_A1,
    OD_A2,
    OD_A3,
    OD_A4,
    OD_ALLOCATED,
    OD_DECIDED,
    OD_EVENT,
    OD_FILLED,
    OD_KIND,
    OD_QUANTITY,
    OD_REASON,
    OD_REBALANCE,
    OD_RESOLVED,
    OD_SLEEVE,
    OD_SYMBOL,
    OD_USED,
    OP_EXPIRES,
    OP_PRICE,
    OP_PROTECT,
    OP_SIGNAL,
    OP_SPEC,
    OP_TYPE,
    OT_LIMIT,
    OT_MARKET,
    OT_STOP_LOSS,
    OT_TAKE_PROFIT,
    OT_TRAILING_STOP,
    PENDING,
    PR_DEFER,
    PR_LIVE,
    PR_SIDE,
    PR_STOP,
    PR_STOP_TYPE,
    PR_TAKE,
    PR_TRAIL_DEN,
    PR_TRAIL_NUM,
    R_CLOSED,
    R_CONFLICT,
    R_EXPIRED,
    R_NEWER_SIGNAL,
    R_NO_PRICE,
    R_NONE,
    R_REBALANCING,
    R_RUN_STOPPED,
    R_SHORTFALL,
    R_SLEEVE_FAILED,
    R_TRIGGERED,
    R_UNFILLED,
    REJECTED,
    RULE,
    SELL,
    SG_BAR,
    SG_EVENT,
    SG_HAS_TARGET,
    SG_ORDER,
    SG_REASON,
    SG_SIDE,
    SG_SLEEVE,
    SG_SYMBOL,
    SG_TARGET,
    SGF_CAPITAL,
    SGF_WEIGHT,
    SL_ALLOCATED,
    SL_CASH,
    SL_FAILED,
    SL_PENDING,
    SL_PROTECTED,
    SL_RECHECK,
    SL_TRADES,
    SL_USED,
    SP_COLUMNS,
    SP_SIDE,
    SP_STOP_DEN,
    SP_STOP_NUM,
    SP_STOP_PRICE,
    SP_TAKE_DEN,
    SP_TAKE_NUM,
    SP_TAKE_PRICE,
    SP_TRAIL_DEN,
    SP_TRAIL_NUM,
    TRIGGERED,
    WEIGHTED,
)

hot = njit(cache=True, _nrt=False)
"""The functions of the bar loop that allocate nothing: compiled without numba's reference
counting, which otherwise costs two atomic operations per array argument per call (a quarter of
the stepping time) wherever an array is used only on some branch."""

MICRO = 1_000_000
MAX_SLEEVE = 9e12  # what a sleeve may hold, in units (SPEC §3); int64 micro units end at 9.22e12
BEYOND = 9 * 10**18  # the cost said of an order for more than any sleeve holds (micro units)
MAX_TARGET = (5 * 10**11 - 1) * MICRO  # micro-shares
PROGRESS_EVERY = 4096  # bars between calls back to Python (progress, Ctrl-C)
TR_REBALANCE, TR_BAR, TR_SLEEVE, TR_AMOUNT = 0, 1, 2, 3


@njit(cache=True)
def grown(table: np.ndarray, used: int, needed: int) -> np.ndarray:
    """`table` with room for `needed` more rows after its first `used` (doubled as needed)."""
    rows = table.shape[0]
    if used + needed <= rows:
        return table
    size = max(rows * 2, used + needed, 16)
    bigger = np.zeros((size, table.shape[1]), dtype=table.dtype)
    bigger[:used] = table[:used]
    return bigger


# -- calls back to Python (each in a function of its own: numba lowers objmode blocks inside
# loops with break or continue wrongly) ----------------------------------------------------------


@hot
def _call_strategy(key, i, t) -> int:
    with objmode(count="int64"):
        count = bridge.call_strategy(key, i, t)
    return count


@njit(cache=True)
def _rebalance(key, t):
    with objmode(plan="int64[:, :]", moved="int64[:]", lacks="int64[:]", rebalance="int64"):
        plan, moved, lacks, rebalance = bridge.rebalance(key, t)
    return plan, moved, lacks, rebalance


@hot
def _sleeve_limit(key, i, t, amount):
    with objmode():
        bridge.sleeve_limit(key, i, t, amount)


@hot
def _progress(key, t):
    with objmode():
        bridge.progress(key, t)


@hot
def _resolve(key, t, j, n):
    with objmode():
        bridge.resolve(key, t, j, n)


@hot
def _exact_target(key, weight, cash, i, t, j, lot):
    with objmode(quantity="int64"):
        quantity = bridge.exact_target(key, weight, cash, i, t, j, lot)
    return quantity


# -- equity and sizing --------------------------------------------------------------------------


@hot
def equity_float(sleeves, qty, marks_f, t, i) -> float:
    """Sleeve i's cash plus positions at the marks of bar t, as a float (for sizing)."""
    total = sleeves[i, SL_CASH] / MICRO
    row = qty[i]
    for j in range(row.shape[0]):
        if row[j] != 0:
            total += row[j] / MICRO * marks_f[t, j]
    return total


@hot
def target_quantity(key, sleeves, qty, marks_f, t, i, j, side, weight, allow_short, lot, equity_at, equity):
    """Sleeve i's target position in symbol j for a signal at bar t (micro-shares, signed):
    floor_to_lot(weight x equity / close). Returns (target, state): state 0 ok, 1 no price yet,
    2 the sleeve's equity passed its bound. `equity_at`/`equity` cache each sleeve's equity
    for the bar."""
    short = side == SELL and allow_short
    if side == EXIT or (side == SELL and not short) or weight == 0.0:
        return 0, 0
    price = marks_f[t, j]
    if price <= 0.0:
        return 0, 1
    if equity_at[i] != t:
        equity[i] = equity_float(sleeves, qty, marks_f, t, i)
        equity_at[i] = t
        if equity[i] > MAX_SLEEVE:
            return 0, 2
    lots = weight * equity[i] / price * (MICRO / lot)
    if lots * lot >= MAX_TARGET:  # a weight far above 1: more than any position may hold
        quantity = MAX_TARGET // lot * lot
    elif abs(lots - round(lots)) > max(1e-6, abs(lots) * 1e-12):
        quantity = max(math.floor(lots), 0) * lot
    else:  # too close to a lot boundary for floats: decide exactly, in Python integers (rare)
        cash = sleeves[i, SL_CASH]
        quantity = _exact_target(key, weight, cash, i, t, j, lot)
    return (-quantity if short else quantity), 0


# -- orders and decisions ---------------------------------------------------------------------------


@hot
def new_order(orders, counters, i, j, quantity, t, rebalance) -> int:
    """A new order row (pending); returns its row."""
    row = counters[CT_ORDERS]
    counters[CT_ORDERS] += 1
    orders[row, OD_SLEEVE] = i
    orders[row, OD_SYMBOL] = j
    orders[row, OD_QUANTITY] = quantity
    orders[row, OD_DECIDED] = t
    orders[row, OD_RESOLVED] = -1
    orders[row, OD_FILLED] = 0
    orders[row, OD_KIND] = PENDING
    orders[row, OD_REASON] = R_NONE
    orders[row, OD_REBALANCE] = rebalance
    orders[row, OD_EVENT] = -1
    return row


@hot
def decide(orders, row, t, kind, reason, a1):
    orders[row, OD_RESOLVED] = t
    orders[row, OD_KIND] = kind
    orders[row, OD_REASON] = reason
    orders[row, OD_A1] = a1


@hot
def order_type(orders, extras, row) -> int:
    """Order `row`'s type (OT_*): a market order unless its extras say otherwise."""
    r = orders[row, OD_REBALANCE]
    return extras[-2 - r, EX_TYPE] if r <= -2 else OT_MARKET


@hot
def order_extra(orders, extras, row, column) -> int:
    """Column `column` of order `row`'s extras (0 if it has none)."""
    r = orders[row, OD_REBALANCE]
    return extras[-2 - r, column] if r <= -2 else 0


@hot
def give_extras(orders, extras, counters, row, kind) -> int:
    """A row of `extras` for order `row` (a strategy's order), of type `kind`; returns it."""
    e = counters[CT_EXTRAS]
    counters[CT_EXTRAS] += 1
    extras[e, EX_TYPE] = kind
    orders[row, OD_REBALANCE] = -2 - e
    return e


@hot
def unqueue(sleeves, pending, queue, counters, i, j):
    """Take sleeve i's pending order on symbol j off its queue (keeping the others' order)."""
    n = sleeves[i, SL_PENDING]
    k = 0
    while queue[i, k] != j:
        k += 1
    for m in range(k, n - 1):
        queue[i, m] = queue[i, m + 1]
    sleeves[i, SL_PENDING] = n - 1
    pending[i, j] = -1
    if n == 1:
        counters[CT_WAITING] -= 1


@hot
def enqueue(sleeves, pending, queue, counters, i, j, row):
    n = sleeves[i, SL_PENDING]
    queue[i, n] = j
    sleeves[i, SL_PENDING] = n + 1
    pending[i, j] = row
    if n == 0:
        counters[CT_WAITING] += 1


@hot
def cancel_pending(orders, sleeves, pending, queue, counters, i, j, t, reason):
    row = pending[i, j]
    if row >= 0:
        unqueue(sleeves, pending, queue, counters, i, j)
        decide(orders, row, t, CANCELLED, reason, t)


@hot
def place(orders, sleeves, pending, queue, counters, i, j, quantity, t, rebalance) -> int:
    """Queue sleeve i's order to change its position in symbol j by `quantity`, replacing a
    pending one; returns its row, or -1 for a zero change."""
    if pending[i, j] >= 0:
        cancel_pending(orders, sleeves, pending, queue, counters, i, j, t,
                       R_REBALANCING if rebalance >= 0 else R_NEWER_SIGNAL)
    if quantity == 0:
        return -1
    row = new_order(orders, counters, i, j, quantity, t, rebalance)
    enqueue(sleeves, pending, queue, counters, i, j, row)
    return row


@hot
def drop_pending(orders, extras, sleeves, pending, queue, counters, i, t, kind, reason, a1):
    """Decide every order sleeve i has pending as `kind` (in queue order)."""
    n = sleeves[i, SL_PENDING]
    for k in range(n):
        j = queue[i, k]
        row = pending[i, j]
        if kind == EXPIRED and order_type(orders, extras, row) != OT_MARKET:  # a limit or stop never reached
            decide(orders, row, t, kind, R_UNFILLED, -1)
        else:
            decide(orders, row, t, kind, reason, a1)
        pending[i, j] = -1
    sleeves[i, SL_PENDING] = 0
    if n > 0:
        counters[CT_WAITING] -= 1


# -- order options: protective orders and conditional entries (SPEC §8) ------------------------------


@hot
def micro_price(ohlc, t, field, j) -> int:
    """A bar's price in micro units, rounded half even as the fill prices are (costs._micro)."""
    return np.int64(np.rint(ohlc[t, field, j] * MICRO))


@hot
def slipped(price, buying, high, low, s_num, s_den) -> int:
    """`price` moved against the trader by slippage, rounded half even, never beyond the bar's
    high (buys) or low (sells): what a market or stop fill pays or gets."""
    if s_num == 0:
        return min(price, high) if buying else max(price, low)
    if buying:
        return min(scaled(price, s_den + s_num, s_den), high)
    return max(scaled(price, max(s_den - s_num, 0), s_den), low)


@hot
def unprotect(protect, sleeves, counters, i, j):
    """Cancel the protective orders of sleeve i's position in symbol j (if it has any)."""
    protect[i, j, PR_DEFER] = 0
    if protect[i, j, PR_SIDE] != 0:
        protect[i, j, PR_SIDE] = 0
        sleeves[i, SL_PROTECTED] -= 1
        counters[CT_PROTECTED] -= 1


@hot
def protect_position(protect, spec, sleeves, counters, i, j, price, live):
    """Give sleeve i's position in symbol j the protective orders `spec[i, j]` describes, their
    fractions of `price` (the entry's fill price) rounded half even, live from bar `live`;
    replacing any it had."""
    side = spec[i, j, SP_SIDE]
    if protect[i, j, PR_SIDE] == 0:
        sleeves[i, SL_PROTECTED] += 1
        counters[CT_PROTECTED] += 1
    protect[i, j, PR_SIDE] = side
    protect[i, j, PR_LIVE] = live
    protect[i, j, PR_DEFER] = 0
    protect[i, j, PR_STOP_TYPE] = OT_STOP_LOSS
    protect[i, j, PR_TRAIL_NUM], protect[i, j, PR_TRAIL_DEN] = 0, 0
    stop = 0
    if spec[i, j, SP_STOP_PRICE] > 0:
        stop = spec[i, j, SP_STOP_PRICE]
    elif spec[i, j, SP_STOP_DEN] > 0:
        num, den = spec[i, j, SP_STOP_NUM], spec[i, j, SP_STOP_DEN]
        stop = scaled(price, den - num if side > 0 else den + num, den)
    elif spec[i, j, SP_TRAIL_DEN] > 0:
        num, den = spec[i, j, SP_TRAIL_NUM], spec[i, j, SP_TRAIL_DEN]
        stop = scaled(price, den - num if side > 0 else den + num, den)
        protect[i, j, PR_STOP_TYPE] = OT_TRAILING_STOP
        protect[i, j, PR_TRAIL_NUM], protect[i, j, PR_TRAIL_DEN] = num, den
    take = 0
    if spec[i, j, SP_TAKE_PRICE] > 0:
        take = spec[i, j, SP_TAKE_PRICE]
    elif spec[i, j, SP_TAKE_DEN] > 0:
        num, den = spec[i, j, SP_TAKE_NUM], spec[i, j, SP_TAKE_DEN]
        take = scaled(price, den + num if side > 0 else den - num, den)
    protect[i, j, PR_STOP] = max(stop, 0)
    protect[i, j, PR_TAKE] = max(take, 0)


@hot
def follow_position(protect, spec, sleeves, qty, counters, orders, extras, row, i, j, price, t):
    """After a fill of order `row` on sleeve i's position in symbol j: the order's protective
    orders attached if it carries some and the position is on their side (fractions of this fill's
    price, live from the next bar); else the position's protective orders cancelled if it closed or
    turned to the other side (while it stays open they cover whatever it holds)."""
    held = qty[i, j]
    side = 1 if held > 0 else -1 if held < 0 else 0
    if order_extra(orders, extras, row, EX_SPEC) and side != 0 and side == spec[i, j, SP_SIDE]:
        protect_position(protect, spec, sleeves, counters, i, j, price, t + 1)
    elif protect[i, j, PR_SIDE] != 0 and side != protect[i, j, PR_SIDE]:
        unprotect(protect, sleeves, counters, i, j)


@hot
def entry_price(orders, extras, row, ohlc, t, j, s_num, s_den, at_close) -> int:
    """The price a limit or stop entry fills at on bar t, or 0 if it does not (SPEC §8). A limit
    buy: at the open if the open is at or below the limit, else at the limit if the low reaches
    it; a stop buy: at the open if the open is at or above the stop, else at the stop if the
    high reaches it (slipped, never beyond the high); mirrored for sells. `at_close`: tried at
    the close only (close mode, on the signal's own bar)."""
    level = order_extra(orders, extras, row, EX_TRIGGER)
    buying = orders[row, OD_QUANTITY] > 0
    high, low = micro_price(ohlc, t, HIGH, j), micro_price(ohlc, t, LOW, j)
    first = micro_price(ohlc, t, CLOSE if at_close else OPEN, j)
    if order_type(orders, extras, row) == OT_LIMIT:
        if buying:
            if first <= level:
                return first
            return level if not at_close and low <= level else 0
        if first >= level:
            return first
        return level if not at_close and high >= level else 0
    if buying:
        if first >= level:
            return slipped(first, True, high, low, s_num, s_den)
        return slipped(level, True, high, low, s_num, s_den) if not at_close and high >= level else 0
    if first <= level:
        return slipped(first, False, high, low, s_num, s_den)
    return slipped(level, False, high, low, s_num, s_den) if not at_close and low <= level else 0


@hot
def trigger_protective(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, protect, ohlc,
                       has_bar, s_num, s_den, c_num, c_den, fee, close_mode, deferred) -> int:
    """The protective orders that fire on bar t (SPEC §8), each filled on its own at its price:
    the stop (stop-loss or trailing) first, at the open if the open is at or beyond it, else at
    its price if the low (a short: the high) reaches it, slipped; else the take-profit, at the
    open if the open is at or beyond it, else at its price if the high (a short: the low)
    reaches it, never slipped. A position that a market order reduces at this open is left to
    that order (deferred): once it filled (`deferred`), the protective orders of what is left
    are cancelled if the open was at or beyond one of them, else tried inside the bar. Each
    fill is a `triggered` order of the protective order's type; the position's other
    protective orders are cancelled with it (one cancels the other), and so is a pending order
    that would reduce the closed position. Returns 0, or 3 if a fill would take a sleeve past
    its bound (the run stops at t). The sleeve's strategy is due at t (SL_RECHECK)."""
    n_sleeves, n_symbols = qty.shape
    for i in range(n_sleeves):
        if sleeves[i, SL_PROTECTED] == 0 or sleeves[i, SL_FAILED]:
            continue
        for j in range(n_symbols):
            side = protect[i, j, PR_SIDE]
            market = -1  # the market order it was deferred to
            if deferred:
                if not protect[i, j, PR_DEFER]:
                    continue
                market = protect[i, j, PR_DEFER] - 1
                protect[i, j, PR_DEFER] = 0
            if side == 0 or not has_bar[t, j] or protect[i, j, PR_LIVE] > t:
                continue
            waiting = pending[i, j]
            if (not deferred and waiting >= 0 and not close_mode and order_type(orders, extras, waiting) == OT_MARKET
                    and (orders[waiting, OD_QUANTITY] > 0) != (side > 0)):
                protect[i, j, PR_DEFER] = waiting + 1  # a market order reduces it at this open: it fills first
                counters[CT_DEFERRED] += 1
                continue
            first, high, low = (micro_price(ohlc, t, OPEN, j), micro_price(ohlc, t, HIGH, j),
                                micro_price(ohlc, t, LOW, j))
            stop, take = protect[i, j, PR_STOP], protect[i, j, PR_TAKE]
            at_open = ((stop > 0 and (first <= stop if side > 0 else first >= stop))
                       or (take > 0 and (first >= take if side > 0 else first <= take)))
            if market >= 0 and orders[market, OD_FILLED] != 0 and at_open:
                unprotect(protect, sleeves, counters, i, j)  # it would have filled at the open: the market
                continue  # order did, and they are cancelled
            price, kind, level = 0, OT_MARKET, 0
            if stop > 0:
                if side > 0:
                    if first <= stop:
                        price = slipped(first, False, high, low, s_num, s_den)
                    elif low <= stop:
                        price = slipped(stop, False, high, low, s_num, s_den)
                else:
                    if first >= stop:
                        price = slipped(first, True, high, low, s_num, s_den)
                    elif high >= stop:
                        price = slipped(stop, True, high, low, s_num, s_den)
                kind, level = protect[i, j, PR_STOP_TYPE], stop
            if price == 0 and take > 0:
                if side > 0:
                    if first >= take:
                        price = first
                    elif high >= take:
                        price = take
                else:
                    if first <= take:
                        price = first
                    elif low <= take:
                        price = take
                kind, level = OT_TAKE_PROFIT, take
            if price == 0:
                continue
            quantity = -qty[i, j]
            over = beyond(sleeves[i, SL_CASH], quantity, price)
            if over > 0.0:
                counters[CT_STOP_SLEEVE] = i
                _sleeve_limit(key, i, t, over)
                return 3
            row = new_order(orders, counters, i, j, quantity, t, -1)
            extras[give_extras(orders, extras, counters, row, kind), EX_TRIGGER] = level
            paid = commission_of(quantity, price, c_num, c_den, fee)
            realized = apply_fill(sleeves, qty, basis, i, j, quantity, price, paid)
            orders[row, OD_FILLED] = quantity
            decide(orders, row, t, TRIGGERED, R_TRIGGERED, level)
            record_fill(fills, counters, row, i, t, j, quantity, price, paid, realized, sleeves[i, SL_CASH])
            unprotect(protect, sleeves, counters, i, j)
            sleeves[i, SL_RECHECK] = 1  # its strategy is due: the position changed without a signal of its own
            if waiting >= 0 and (orders[waiting, OD_QUANTITY] > 0) != (side > 0):  # nothing left to reduce
                cancel_pending(orders, sleeves, pending, queue, counters, i, j, t, R_CLOSED)
    return 0


@hot
def ratchet(t, protect, sleeves, ohlc, has_bar):
    """Trailing stops after the close of bar t: a long's rises to (1 - f) x the close if that
    is higher, a short's falls to (1 + f) x the close if that is lower (rounded half even)."""
    for i in range(protect.shape[0]):
        if sleeves[i, SL_PROTECTED] == 0:
            continue
        for j in range(protect.shape[1]):
            side = protect[i, j, PR_SIDE]
            if side == 0 or protect[i, j, PR_STOP_TYPE] != OT_TRAILING_STOP or not has_bar[t, j]:
                continue
            close = micro_price(ohlc, t, CLOSE, j)
            num, den = protect[i, j, PR_TRAIL_NUM], protect[i, j, PR_TRAIL_DEN]
            if side > 0:
                level = scaled(close, den - num, den)
                if level > protect[i, j, PR_STOP]:
                    protect[i, j, PR_STOP] = level
            else:
                level = scaled(close, den + num, den)
                if level < protect[i, j, PR_STOP]:
                    protect[i, j, PR_STOP] = level


@hot
def record_fill(fills, counters, row, i, t, j, quantity, price, paid, realized, cash):
    n = counters[CT_FILLS]
    counters[CT_FILLS] += 1
    fills[n, FL_ORDER] = row
    fills[n, FL_SLEEVE] = i
    fills[n, FL_BAR] = t
    fills[n, FL_SYMBOL] = j
    fills[n, FL_QUANTITY] = quantity
    fills[n, FL_PRICE] = price
    fills[n, FL_COMMISSION] = paid
    fills[n, FL_REALIZED] = realized
    fills[n, FL_CASH] = cash


@hot
def take_options(orders, extras, counters, opts, o, row, spec, i, j, t):
    """Give order `row` (sleeve i, symbol j, decided at t) the options of row `o` of `opts`:
    its entry type, price and expiry, and the protective orders it attaches when it fills."""
    e = give_extras(orders, extras, counters, row, opts[o, OP_TYPE])
    extras[e, EX_TRIGGER] = opts[o, OP_PRICE]
    extras[e, EX_EXPIRES] = t + opts[o, OP_EXPIRES] + 1 if opts[o, OP_EXPIRES] > 0 else 0
    if opts[o, OP_PROTECT]:
        extras[e, EX_SPEC] = 1
        for c in range(SP_COLUMNS):
            spec[i, j, c] = opts[o, OP_SPEC + c]


@hot
def take_signals(key, orders, extras, signals, signal_floats, sleeves, qty, basis, pending, queue, counters, marks_f,
                 t, i, symbols, sides, weights, reasons, count, allow_short, lot, equity_at, equity, opts, n_opts,
                 protect, spec) -> int:
    """Turn sleeve i's `count` signals at bar t into orders; records every signal. The first
    `n_opts` rows of `opts` are the order options of some of them (in signal order). Returns 0,
    or 2 if the sleeve's equity passed its bound (the signals so far are kept)."""
    capital = (sleeves[i, SL_ALLOCATED] - sleeves[i, SL_USED]) / MICRO
    o = 0  # the next row of options
    for k in range(count):
        j, side, weight = symbols[k], sides[k], weights[k]
        target, state = target_quantity(key, sleeves, qty, marks_f, t, i, j, side, weight, allow_short, lot,
                                        equity_at, equity)
        if state == 2:
            return 2
        options = -1
        if o < n_opts and opts[o, OP_SIGNAL] == k:
            options = o
            o += 1
        row = -1
        if state == 1:  # no price yet: rejected, but it replaces a pending order
            cancel_pending(orders, sleeves, pending, queue, counters, i, j, t, R_NEWER_SIGNAL)
            rejected = new_order(orders, counters, i, j, 0, t, -1)
            decide(orders, rejected, t, REJECTED, R_NO_PRICE, 0)
            row = rejected
        else:
            row = place(orders, sleeves, pending, queue, counters, i, j, target - qty[i, j], t, -1)
            if options >= 0:
                if row >= 0:
                    take_options(orders, extras, counters, opts, options, row, spec, i, j, t)
                elif opts[options, OP_PROTECT] and qty[i, j] != 0 and (qty[i, j] > 0) == (
                        opts[options, OP_SPEC + SP_SIDE] > 0):  # held as asked: its protection replaced,
                    for c in range(SP_COLUMNS):  # of the position's average price
                        spec[i, j, c] = opts[options, OP_SPEC + c]
                    average = scaled(abs(basis[i, j]), MICRO, abs(qty[i, j]))
                    protect_position(protect, spec, sleeves, counters, i, j, average, t + 1)
        n = counters[CT_SIGNALS]
        counters[CT_SIGNALS] += 1
        signals[n, SG_SLEEVE] = i
        signals[n, SG_BAR] = t
        signals[n, SG_SYMBOL] = j
        signals[n, SG_SIDE] = side
        signals[n, SG_REASON] = reasons[k]
        signals[n, SG_TARGET] = target
        signals[n, SG_HAS_TARGET] = 1 if state == 0 else 0
        signals[n, SG_ORDER] = row + 1
        signals[n, SG_EVENT] = counters[CT_EVENT]
        counters[CT_EVENT] += 1
        signal_floats[n, SGF_WEIGHT] = weight
        signal_floats[n, SGF_CAPITAL] = capital
    return 0


# -- compiled rules ----------------------------------------------------------------------------------


@hot
def rule_signals(conditions, entry, exit_, short, weight, qty, t, i, symbols, sides, weights, reasons,
                 entry_reason, exit_reason) -> int:
    """A rule's signals at bar t (SPEC §2): an exit for each held symbol whose exit condition
    holds, then an entry (buy, or sell for a short rule) of `weight` for each flat symbol whose
    entry condition holds; symbols in order. Returns how many."""
    n = 0
    row = qty[i]
    if exit_ >= 0:
        for j in range(row.shape[0]):
            if row[j] != 0 and conditions[t, exit_, j]:
                symbols[n], sides[n], weights[n], reasons[n] = j, EXIT, 0.0, exit_reason
                n += 1
    for j in range(row.shape[0]):
        if row[j] == 0 and conditions[t, entry, j]:
            symbols[n], sides[n], weights[n], reasons[n] = j, SELL if short else BUY, weight, entry_reason
            n += 1
    return n


@hot
def rule_options(opts, rule_opts, i, sides, count, counters):
    """Rule i's order options, on each of its `count` signals that is an entry (not an exit)."""
    n = 0
    for k in range(count):
        if sides[k] != EXIT:
            for c in range(opts.shape[1]):
                opts[n, c] = rule_opts[i, c]
            opts[n, OP_SIGNAL] = k
            n += 1
    counters[CT_OPTIONS] = n


# -- fills ---------------------------------------------------------------------------------------


@hot
def released_basis(basis, held, quantity) -> int:
    """Cost basis a reducing fill of `quantity` releases from a position of `held`: the same
    fraction, rounded half even (all of it when the position closes)."""
    if -quantity == held:
        return basis
    if held < 0:  # basis x -quantity / held, with a positive divisor
        return scaled(basis, quantity, -held)
    return scaled(basis, -quantity, held)


@hot
def available_change(qty, basis, i, j, quantity, price, fee) -> int:
    """How sleeve i's available capital would change if this reducing fill were booked: its
    cash flow less the basis it releases, which stops being used."""
    value = notional(quantity, price)
    released = released_basis(basis[i, j], qty[i, j], quantity)
    return (value if quantity < 0 else -value) - released - fee + abs(released)


@hot
def apply_fill(sleeves, qty, basis, i, j, quantity, price, fee) -> int:
    """Book a fill on sleeve i; returns the realized P&L before commission (micro units)."""
    held = qty[i, j]
    before = basis[i, j]
    value = notional(quantity, price)
    cash = value if quantity < 0 else -value
    realized = 0
    new_basis = before
    if held != 0 and (held > 0) != (quantity > 0):
        released = released_basis(before, held, quantity)
        realized = cash - released
        new_basis = before - released
    else:
        if held == 0:
            sleeves[i, SL_TRADES] += 1
        new_basis = before - cash
    qty[i, j] = held + quantity
    if qty[i, j] == 0:
        new_basis = 0
    basis[i, j] = new_basis
    sleeves[i, SL_USED] += abs(new_basis) - abs(before)
    sleeves[i, SL_CASH] += cash - fee
    sleeves[i, SL_ALLOCATED] += realized - fee
    return realized


@hot
def affordable(cash, price, fee, c_num, c_den, lot) -> int:
    """The most whole lots (micro-shares) whose notional plus commission fits in `cash`."""
    if cash <= fee:
        return 0
    estimate = (cash - fee) / (price / MICRO) / (1.0 + c_num / c_den)
    quantity = max(int(estimate) // lot * lot, 0)
    while notional(quantity + lot, price) + commission_of(quantity + lot, price, c_num, c_den, fee) <= cash:
        quantity += lot
    while quantity > 0 and notional(quantity, price) + commission_of(quantity, price, c_num, c_den, fee) > cash:
        quantity -= lot
    return quantity


@hot
def beyond(cash, quantity, price) -> float:
    """Whether a fill of `quantity` at `price` takes a sleeve holding `cash` past what a sleeve
    may hold (SPEC §3): the amount it would reach (units), else 0. Checked in floats, before
    the exact integers that could not hold it."""
    value = abs(quantity) / MICRO * (price / MICRO)
    after = abs(cash / MICRO + (value if quantity < 0 else -value))
    return max(value, after) if max(value, after) > MAX_SLEEVE else 0.0


@hot
def stop_bar(key, orders, ready, count, counters, t, i, amount) -> int:
    """Sleeve i would reach `amount`, past its bound, at this bar's fills: the run stops here,
    every order of the bar cancelled (the fills before stand). Returns 3."""
    for k in range(count):
        decide(orders, ready[k], t, CANCELLED, R_RUN_STOPPED, i)
    counters[CT_STOP_SLEEVE] = i
    _sleeve_limit(key, i, t, amount)
    return 3


@hot
def on(orders, extras, row, j) -> bool:
    """Whether order `row` is a market order on symbol j: what conflicts group and net (orders
    with a price condition fill on their own)."""
    return orders[row, OD_SYMBOL] == j and order_type(orders, extras, row) == OT_MARKET


@hot
def fill_ready(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, conflicts, conflict_orders,
               transfers, has_bar, buy, sell, base, c_num, c_den, fee, lot, clip, isolated, mode, nets, ranks,
               weights, payees, scratch, group, protect, spec, ohlc, s_num, s_den, close_mode, at_close) -> int:
    """Fill every pending order that fills at this point of bar t (the open, or the close
    `at_close`): market orders whose symbol has a bar (at the open, or at the close in close
    mode), limit and stop entries that trigger (intrabar at the open; at the close on their own
    bar in close mode; an entry past its `expires` bars expires at the open): conflicts of
    market orders resolved, legs sized against each sleeve's capital, booked (netted where the
    resolver nets), protective orders attached or following the positions, decisions recorded.
    Returns 0, or 3 if a fill would take a sleeve past its bound (see `stop_bar`)."""
    n_sleeves, n_symbols = qty.shape
    ready = scratch[0]
    count = 0
    for i in range(n_sleeves):
        n = sleeves[i, SL_PENDING]
        if n == 0:
            continue
        kept = 0
        for k in range(n):
            j = queue[i, k]
            row = pending[i, j]
            take = False
            if orders[row, OD_REBALANCE] > -2 or order_type(orders, extras, row) == OT_MARKET:
                take = has_bar[t, j] and at_close == close_mode
            else:
                price = 0
                if has_bar[t, j] and (not at_close or orders[row, OD_DECIDED] == t):
                    price = entry_price(orders, extras, row, ohlc, t, j, s_num, s_den, at_close)
                e = -2 - orders[row, OD_REBALANCE]
                if price > 0:
                    extras[e, EX_PRICE] = price
                    take = True
                elif not at_close and extras[e, EX_EXPIRES] > 0 and t + 1 >= extras[e, EX_EXPIRES]:
                    decide(orders, row, t, EXPIRED, R_UNFILLED, t)
                    pending[i, j] = -1
                    continue
            if take:
                ready[count] = row
                pending[i, j] = -1
                count += 1
            else:
                queue[i, kept] = j
                kept += 1
        sleeves[i, SL_PENDING] = kept
        if kept == 0:
            counters[CT_WAITING] -= 1
    if count == 0:
        return 0
    stands = scratch[1]
    for k in range(count):
        stands[k] = 1
    # 1. conflicts: orders of several sleeves on one symbol
    seen = scratch[2]  # per symbol: how many ready orders
    first = scratch[3]  # per symbol: conflict number + 1 once found
    groups = 0
    group_symbols = scratch[4]
    if not isolated:
        for k in range(count):
            if order_type(orders, extras, ready[k]) == OT_MARKET:
                seen[orders[ready[k], OD_SYMBOL]] += 1
        for k in range(count):
            j = orders[ready[k], OD_SYMBOL]
            if seen[j] > 1 and first[j] == 0 and order_type(orders, extras, ready[k]) == OT_MARKET:
                group_symbols[groups] = j
                groups += 1
                first[j] = groups
        for g in range(groups):
            stand(t, key, group_symbols[g], ready, count, stands, orders, extras, mode, ranks, weights, group)
    nets_group = scratch[5]
    for g in range(groups):
        j = group_symbols[g]
        stood = 0
        for k in range(count):
            if on(orders, extras, ready[k], j) and stands[k]:
                stood += 1
        nets_group[g] = 1 if nets and stood > 1 else 0
        if stood < seen[j]:
            for k in range(count):
                if on(orders, extras, ready[k], j) and not stands[k]:
                    decide(orders, ready[k], t, CANCELLED, R_CONFLICT, counters[CT_CONFLICTS] + g)
    # 2. legs in booking order: rebalancing sales first, then each sleeve's reducing legs before
    # its increasing ones
    leg_row, leg_qty, leg_fee, leg_reduces = scratch[6], scratch[7], scratch[8], scratch[9]
    leg_price, leg_commission = scratch[10], scratch[11]
    legs = 0
    for k in range(count):
        row = ready[k]
        if stands[k] and orders[row, OD_REBALANCE] >= 0:
            i, j, quantity = orders[row, OD_SLEEVE], orders[row, OD_SYMBOL], orders[row, OD_QUANTITY]
            held = qty[i, j]
            if held != 0 and (held > 0) != (quantity > 0):
                part = quantity if abs(quantity) <= abs(held) else -held
                leg_row[legs], leg_qty[legs], leg_fee[legs], leg_reduces[legs] = row, part, 1, 1
                legs += 1
    k = 0
    while k < count:
        i = orders[ready[k], OD_SLEEVE]
        end = k
        while end < count and orders[ready[end], OD_SLEEVE] == i:
            end += 1
        for step in range(2):  # reducing legs, then increasing ones
            for m in range(k, end):
                row = ready[m]
                if not stands[m]:
                    continue
                j, quantity = orders[row, OD_SYMBOL], orders[row, OD_QUANTITY]
                held = qty[i, j]
                reduces = held != 0 and (held > 0) != (quantity > 0)
                part = (quantity if abs(quantity) <= abs(held) else -held) if reduces else 0
                if step == 0 and reduces and orders[row, OD_REBALANCE] < 0:
                    leg_row[legs], leg_qty[legs], leg_fee[legs], leg_reduces[legs] = row, part, 1, 1
                    legs += 1
                elif step == 1:
                    if reduces and part != quantity:
                        leg_row[legs], leg_qty[legs], leg_fee[legs], leg_reduces[legs] = row, quantity - part, 0, 0
                        legs += 1
                    elif not reduces:
                        leg_row[legs], leg_qty[legs], leg_fee[legs], leg_reduces[legs] = row, quantity, 1, 0
                        legs += 1
        k = end
    # 3. sizing against capital, in booking order
    available = scratch[12]
    known = scratch[13]
    for m in range(legs):
        i = orders[leg_row[m], OD_SLEEVE]
        if not known[i]:
            available[i] = sleeves[i, SL_ALLOCATED] - sleeves[i, SL_USED]
            known[i] = 1
    for m in range(legs):
        row = leg_row[m]
        i, j, quantity = orders[row, OD_SLEEVE], orders[row, OD_SYMBOL], leg_qty[m]
        buying = quantity > 0
        charge = fee if leg_fee[m] else 0
        leg_commission[m] = -1
        if leg_reduces[m]:
            price = order_extra(orders, extras, row, EX_PRICE)
            if price == 0:
                price = buy[t, j] if buying else sell[t, j]
            over = beyond(sleeves[i, SL_CASH], quantity, price)
            if over > 0.0:
                return stop_bar(key, orders, ready, count, counters, t, i, over)
            paid = commission_of(quantity, price, c_num, c_den, charge)
            leg_price[m], leg_commission[m] = price, paid
            change = available_change(qty, basis, i, j, quantity, price, paid)
            available[i] += change
            rebalance = orders[row, OD_REBALANCE]
            if rebalance >= 0 and change > 0:  # its proceeds go to the sleeves it is for
                for receiver in range(n_sleeves):
                    share = split_share(payees, rebalance, change, receiver)
                    if share != 0:
                        available[i] -= share
                        if not known[receiver]:
                            available[receiver] = sleeves[receiver, SL_ALLOCATED] - sleeves[receiver, SL_USED]
                            known[receiver] = 1
                        available[receiver] += share
            continue
        price = order_extra(orders, extras, row, EX_PRICE)  # a triggered entry's own price, else:
        if price == 0:
            price = buy[t, j]  # a short sale reserves at most the buying price
        if abs(quantity) / MICRO * (price / MICRO) < 0.8 * MAX_SLEEVE:  # its cost fits in 64 bits
            cost = notional(quantity, price) + commission_of(quantity, price, c_num, c_den, charge)
        else:  # more than any sleeve holds: unaffordable, its cost only said
            cost = BEYOND
        if cost > available[i]:
            can = affordable(available[i], price, charge, c_num, c_den, lot) if clip else 0
            orders[row, OD_A1], orders[row, OD_A2] = cost, abs(quantity)
            orders[row, OD_A3], orders[row, OD_A4] = price, available[i]
            orders[row, OD_REASON] = R_SHORTFALL
            quantity = can if buying else -can
            leg_qty[m] = quantity
            cost = notional(quantity, price) + commission_of(quantity, price, c_num, c_den, charge)
        if quantity != 0:
            available[i] -= cost
            if buying:  # it fills at the price it was sized at
                leg_price[m] = price
                leg_commission[m] = cost - notional(quantity, price)
    for m in range(legs):
        known[orders[leg_row[m], OD_SLEEVE]] = 0
    for receiver in range(n_sleeves):
        known[receiver] = 0
    # 4. netting: one price and one commission per netted symbol, shared pro rata
    net_price = scratch[14]  # per conflict: the net's price
    shares = scratch[15]  # per leg: its share of the net's commission, or -1
    for m in range(legs):
        shares[m] = -1
    for g in range(groups):
        if not nets_group[g]:
            continue
        j = group_symbols[g]
        net = 0
        gross = 0
        for m in range(legs):
            if on(orders, extras, leg_row[m], j) and leg_qty[m] != 0:
                net += leg_qty[m]
                gross += abs(leg_qty[m])
        price = (buy[t, j] if net > 0 else sell[t, j]) if net != 0 else base[t, j]
        net_price[g] = price
        total = commission_of(net, price, c_num, c_den, fee) if net != 0 else 0
        given = 0
        for m in range(legs):
            if on(orders, extras, leg_row[m], j) and leg_qty[m] != 0:
                shares[m] = floor_share(total, abs(leg_qty[m]), gross)
                given += shares[m]
        for _ in range(total - given):  # the micro-unit dust goes where it stays within the standalone commission
            best, room = -1, -1
            for m in range(legs):
                if on(orders, extras, leg_row[m], j) and leg_qty[m] != 0:
                    alone = commission_of(leg_qty[m], price, c_num, c_den, fee if leg_fee[m] else 0)
                    if alone - shares[m] > room:
                        best, room = m, alone - shares[m]
            shares[best] += 1
    # 5. booking
    for m in range(legs):
        quantity = leg_qty[m]
        if quantity == 0:
            continue
        row = leg_row[m]
        i, j = orders[row, OD_SLEEVE], orders[row, OD_SYMBOL]
        charge = fee if leg_fee[m] else 0
        g = first[j] - 1 if not isolated and order_type(orders, extras, row) == OT_MARKET else -1
        if g >= 0 and nets_group[g]:
            price = net_price[g]
            paid = shares[m] if shares[m] >= 0 else commission_of(quantity, price, c_num, c_den, charge)
        elif leg_commission[m] >= 0:
            price, paid = leg_price[m], leg_commission[m]
        else:
            price = order_extra(orders, extras, row, EX_PRICE)
            if price == 0:
                price = buy[t, j] if quantity > 0 else sell[t, j]
            paid = commission_of(quantity, price, c_num, c_den, charge)
        cash_before = sleeves[i, SL_CASH]
        over = beyond(cash_before, quantity, price)
        if over > 0.0:
            return stop_bar(key, orders, ready, count, counters, t, i, over)
        realized = apply_fill(sleeves, qty, basis, i, j, quantity, price, paid)
        leg_price[m], leg_commission[m] = price, paid
        orders[row, OD_FILLED] += quantity
        record_fill(fills, counters, row, i, t, j, quantity, price, paid, realized, sleeves[i, SL_CASH])
        if orders[row, OD_REBALANCE] <= -2 or sleeves[i, SL_PROTECTED] > 0:
            follow_position(protect, spec, sleeves, qty, counters, orders, extras, row, i, j, price, t)
            if order_type(orders, extras, row) != OT_MARKET:  # filled bars after its signal: the strategy is due
                sleeves[i, SL_RECHECK] = 1
        rebalance = orders[row, OD_REBALANCE]
        if rebalance >= 0 and leg_reduces[m]:
            pay_out(sleeves, counters, transfers, payees, rebalance, i, sleeves[i, SL_CASH] - cash_before, t)
    # 6. the conflicts' records and events
    for g in range(groups):
        j = group_symbols[g]
        c = counters[CT_CONFLICTS] + g
        conflicts[c, CF_BAR] = t
        conflicts[c, CF_SYMBOL] = j
        price = net_price[g] if nets_group[g] else -1
        net = 0
        gross = 0
        paid = 0
        alone = 0
        for m in range(legs):
            row = leg_row[m]
            quantity = leg_qty[m]
            if on(orders, extras, row, j) and quantity != 0:
                net += quantity
                gross += abs(quantity)
                each = commission_of(quantity, price if price >= 0 else (buy[t, j] if quantity > 0 else sell[t, j]),
                                     c_num, c_den, fee if leg_fee[m] else 0)
                alone += each
                paid += shares[m] if shares[m] >= 0 else each
        conflicts[c, CF_NET] = net
        conflicts[c, CF_CROSSED] = (gross - abs(net)) // 2
        conflicts[c, CF_COMMISSION] = paid
        conflicts[c, CF_STANDALONE] = alone
        conflicts[c, CF_SAVED] = alone - paid
        conflicts[c, CF_EVENT] = counters[CT_EVENT]
        counters[CT_EVENT] += 1
        conflicts[c, CF_PRICE] = price
        conflicts[c, CF_NETS] = nets_group[g]
        for k in range(count):
            row = ready[k]
            if on(orders, extras, row, j):
                n = counters[CT_CONFLICT_ORDERS]
                counters[CT_CONFLICT_ORDERS] += 1
                conflict_orders[n, CO_CONFLICT] = c
                conflict_orders[n, CO_SLEEVE] = orders[row, OD_SLEEVE]
                conflict_orders[n, CO_ORDER] = row
                conflict_orders[n, CO_QUANTITY] = orders[row, OD_QUANTITY]
                conflict_orders[n, CO_STOOD] = stands[k]
    counters[CT_CONFLICTS] += groups
    for k in range(count):
        j = orders[ready[k], OD_SYMBOL]
        seen[j] = 0
        first[j] = 0
    # 7. decisions of the standing orders: accepted, or clipped / rejected by capital
    for k in range(count):
        if not stands[k]:
            continue
        row = ready[k]
        if orders[row, OD_FILLED] == orders[row, OD_QUANTITY]:
            orders[row, OD_RESOLVED] = t
            orders[row, OD_KIND] = ACCEPTED
            orders[row, OD_REASON] = R_NONE
            continue
        i = orders[row, OD_SLEEVE]
        orders[row, OD_RESOLVED] = t
        orders[row, OD_KIND] = REJECTED if orders[row, OD_FILLED] == 0 else CLIPPED
        orders[row, OD_EVENT] = counters[CT_EVENT]
        counters[CT_EVENT] += 1
        orders[row, OD_USED] = sleeves[i, SL_USED]
        orders[row, OD_ALLOCATED] = sleeves[i, SL_ALLOCATED]
    return 0


@hot
def stand(t, key, j, ready, count, stands, orders, extras, mode, ranks, weights, group):
    """Which of the ready orders on symbol j stand (`stands`), by the configured mode."""
    if mode == NET_SIGNAL:
        return
    if mode == FIRST_WINS:
        best, rank = -1, 1 << 62
        for k in range(count):
            row = ready[k]
            if on(orders, extras, row, j) and ranks[orders[row, OD_SLEEVE]] < rank:
                best, rank = k, ranks[orders[row, OD_SLEEVE]]
        for k in range(count):
            if on(orders, extras, ready[k], j):
                stands[k] = 1 if k == best else 0
        return
    if mode == CANCEL_BOTH or mode == WEIGHTED:
        buying = 0
        selling = 0
        for k in range(count):
            row = ready[k]
            if on(orders, extras, row, j):
                if orders[row, OD_QUANTITY] > 0:
                    buying += weights[orders[row, OD_SLEEVE]]
                else:
                    selling += weights[orders[row, OD_SLEEVE]]
        if mode == CANCEL_BOTH:
            keep_buys = selling == 0
            keep_sells = buying == 0
        elif buying == selling:  # a tie cancels both sides
            keep_buys = keep_sells = buying == 0 or selling == 0
        else:
            keep_buys = buying > selling
            keep_sells = not keep_buys
        for k in range(count):
            row = ready[k]
            if on(orders, extras, row, j):
                stands[k] = 1 if (keep_buys if orders[row, OD_QUANTITY] > 0 else keep_sells) else 0
        return
    n = 0  # the orders on j, for a Python resolver: it says in the last column which stand
    for k in range(count):
        row = ready[k]
        if on(orders, extras, row, j):
            group[n, 0], group[n, 1], group[n, 2] = row, orders[row, OD_SLEEVE], orders[row, OD_QUANTITY]
            n += 1
    _resolve(key, t, j, n)
    m = 0
    for k in range(count):
        if on(orders, extras, ready[k], j):
            stands[k] = group[m, 3]
            m += 1


# -- rebalancing payouts -----------------------------------------------------------------------------


@hot
def split_share(payees, rebalance, amount, receiver) -> int:
    """Receiver's share of `amount` raised by a rebalancing sale: pro rata to what each payee
    still lacks, in whole micro units, the last payee getting the rest."""
    if amount <= 0 or rebalance >= payees.shape[0]:
        return 0
    total = 0
    last = -1
    for s in range(payees.shape[1]):
        if payees[rebalance, s] > 0:
            total += payees[rebalance, s]
            last = s
    if total == 0 or payees[rebalance, receiver] <= 0:
        return 0
    if receiver != last:
        return scaled(amount, payees[rebalance, receiver], total)
    paid = 0
    for s in range(payees.shape[1]):
        if s != last and payees[rebalance, s] > 0:
            paid += scaled(amount, payees[rebalance, s], total)
    return amount - paid


@hot
def pay_out(sleeves, counters, transfers, payees, rebalance, sender, amount, t):
    """Move the cash a rebalancing sale raised from `sender` to the sleeves it is for."""
    for receiver in range(sleeves.shape[0]):
        share = split_share(payees, rebalance, amount, receiver)
        if share != 0:
            sleeves[sender, SL_CASH] -= share
            sleeves[sender, SL_ALLOCATED] -= share
            sleeves[receiver, SL_CASH] += share
            sleeves[receiver, SL_ALLOCATED] += share
            record_transfer(counters, transfers, rebalance, t, sender, -share)
            record_transfer(counters, transfers, rebalance, t, receiver, share)


@hot
def record_transfer(counters, transfers, rebalance, t, sleeve, amount):
    """Book `amount` moved into `sleeve` by `rebalance` at bar t: one row per rebalance, bar and
    sleeve (a rebalance's sales at one open pay out many times; their sum is what moved)."""
    n = counters[CT_TRANSFERS]
    k = n - 1
    while k >= 0 and transfers[k, TR_BAR] == t:
        if transfers[k, TR_REBALANCE] == rebalance and transfers[k, TR_SLEEVE] == sleeve:
            transfers[k, TR_AMOUNT] += amount
            return
        k -= 1
    counters[CT_TRANSFERS] += 1
    transfers[n, TR_REBALANCE] = rebalance
    transfers[n, TR_BAR] = t
    transfers[n, TR_SLEEVE] = sleeve
    transfers[n, TR_AMOUNT] = amount


@hot
def keep_books(book_cash, book_equity, book_qty, sleeves, qty, marks_f, t):
    """Each sleeve's cash (micro), equity (a float, at the marks of bar t) and positions
    (micro-shares) at the end of bar t."""
    for i in range(qty.shape[0]):
        book_cash[t, i] = sleeves[i, SL_CASH]
        book_equity[t, i] = equity_float(sleeves, qty, marks_f, t, i)
        for j in range(qty.shape[1]):
            book_qty[t, i, j] = qty[i, j]


# -- the loop ---------------------------------------------------------------------------------------


N_ORDERS, N_SIGNALS, N_FILLS, N_CONFLICTS, N_TRANSFERS, N_SCRATCH, N_REBALANCE = range(7)
"""What `step` asks of `run` before it resumes: room (rows, or columns of scratch), or a
rebalance (N_REBALANCE: 1)."""
P_OPEN, P_REBALANCE, P_STRATEGIES, P_CLOSE = range(4)
"""The parts of a bar, in order: where `step` resumes (counters[CT_PHASE])."""


@hot
def short(table, used, more) -> bool:
    return used + more > table.shape[0]


@hot
def fills_fit(needs, counters, sleeves, orders, extras, fills, conflicts, conflict_orders, transfers, scratch) -> bool:
    """Whether the records and scratch have room for the fills of every pending order and
    protective order; if not, `needs` says how much."""
    need = sleeves[:, SL_PENDING].sum()
    n_sleeves = sleeves.shape[0]
    protected = counters[CT_PROTECTED]
    if protected > 0 and (short(orders, counters[CT_ORDERS], protected) or short(extras, counters[CT_EXTRAS], protected)
                          or short(fills, counters[CT_FILLS], 2 * need + protected)):
        needs[N_ORDERS], needs[N_FILLS] = protected, 2 * need + protected
        return False
    if (short(fills, counters[CT_FILLS], 2 * need) or short(conflicts, counters[CT_CONFLICTS], need)
            or short(conflict_orders, counters[CT_CONFLICT_ORDERS], need)
            or short(transfers, counters[CT_TRANSFERS], 2 * need * n_sleeves) or 2 * need + 2 > scratch.shape[1]):
        needs[N_FILLS], needs[N_CONFLICTS], needs[N_TRANSFERS] = 2 * need, need, 2 * need * n_sleeves
        needs[N_SCRATCH] = 2 * need + 2
        return False
    return True


@hot
def orders_fit(needs, counters, orders, extras, signals, signal_floats, count) -> bool:
    """Whether the orders (and their extras) and signals have room for `count` more signals (one
    order each)."""
    if (short(orders, counters[CT_ORDERS], count) or short(extras, counters[CT_EXTRAS], count)
            or short(signals, counters[CT_SIGNALS], count)
            or short(signal_floats, counters[CT_SIGNALS], count)):
        needs[N_ORDERS], needs[N_SIGNALS] = count, count
        return False
    return True


ROOM = -1  # what `fill_bar` says when a record table lacks room (LIMIT: a sleeve passed its bound)


@hot
def fill_bar(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, conflicts, conflict_orders,
             transfers, has_bar, buy, sell, base, c_num, c_den, fee, lot, clip, isolated, mode, nets, ranks, weights,
             payees, scratch, group, needs, protect, spec, ohlc, s_num, s_den, close_mode, at_close) -> int:
    """The fills of one point of bar t, the open or (`at_close`) the close: at the open the
    protective orders that trigger, then the pending orders that fill there (see fill_ready).
    0 when done, ROOM when the records lack room for them (`needs` says how much; nothing was
    filled), LIMIT when a fill would take a sleeve past its bound (the run stops at t)."""
    if not fills_fit(needs, counters, sleeves, orders, extras, fills, conflicts, conflict_orders, transfers, scratch):
        return ROOM
    done = 0
    if not at_close and counters[CT_PROTECTED] > 0:
        done = trigger_protective(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, protect,
                                  ohlc, has_bar, s_num, s_den, c_num, c_den, fee, close_mode, False)
    if done == 0 and counters[CT_WAITING] > 0:
        done = fill_ready(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, conflicts,
                          conflict_orders, transfers, has_bar, buy, sell, base, c_num, c_den, fee, lot, clip,
                          isolated, mode, nets, ranks, weights, payees, scratch, group, protect, spec, ohlc, s_num,
                          s_den, close_mode, at_close)
    if done == 0 and counters[CT_DEFERRED] > 0:  # what market orders reduced at this open, inside the bar
        counters[CT_DEFERRED] = 0
        done = trigger_protective(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, protect,
                                  ohlc, has_bar, s_num, s_den, c_num, c_den, fee, close_mode, True)
    if done == 3:
        counters[CT_STATUS] = LIMIT
        counters[CT_STOP_BAR] = t
        return LIMIT
    return 0


@hot
def pause(counters, t, phase, sleeve) -> int:
    counters[CT_PHASE] = phase
    counters[CT_SLEEVE_AT] = sleeve
    return t


@hot
def step(key, start, stop, due, kinds, rule_entry, rule_exit, rule_short, rule_weight, rule_entry_reason,
         rule_exit_reason, conditions, has_bar, marks_f, buy, sell, base, c_num, c_den, fee, lot, clip,
         allow_short, close_mode, isolated, mode, nets, ranks, weights, threshold, every, targets, sleeves, qty, basis,
         pending, queue, counters, orders, extras, signals, signal_floats, fills, conflicts, conflict_orders,
         transfers, payees, book_cash, book_equity, book_qty, symbols, sides, sig_weights, reasons, equity_at, equity,
         scratch, group, needs, alloc_due, alloc_equity, alloc_flow, ohlc, s_num, s_den, protect, spec, opts,
         rule_opts) -> int:
    """Step bars from `start` (from the part of it counters[CT_PHASE] names) until `stop`, a
    failure (counters[CT_STATUS]) or a record table without room for the next part of a bar:
    then `needs` says what to grow, and stepping resumes there. Returns the bar it stopped at.
    (No array is reassigned here: numba would count references to it at every bar.)"""
    n_sleeves = qty.shape[0]
    n_symbols = qty.shape[1]
    rebalance_active = threshold >= 0.0 and n_sleeves >= 2 and not isolated
    phase = counters[CT_PHASE]
    t = start
    while t < stop:
        if phase == P_OPEN:  # fills at the open
            if t % PROGRESS_EVERY == 0 and t > 0:
                _progress(key, t)
            if counters[CT_WAITING] > 0 or counters[CT_PROTECTED] > 0:
                done = fill_bar(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, conflicts,
                                conflict_orders, transfers, has_bar, buy, sell, base, c_num, c_den, fee, lot, clip,
                                isolated, mode, nets, ranks, weights, payees, scratch, group, needs, protect, spec,
                                ohlc, s_num, s_den, close_mode, False)
                if done == ROOM:
                    return pause(counters, t, P_OPEN, 0)
                if done == LIMIT:
                    return t
            phase = P_REBALANCE
        if phase == P_REBALANCE:  # allocation and drift rebalancing
            allocating = alloc_due.shape[0] > 0 and alloc_due[t]
            if allocating:  # the sleeves' returns up to now, for the policy
                track_sleeves(alloc_equity, alloc_flow, sleeves, qty, marks_f, transfers, counters, t)
            if allocating or (rebalance_active and t % every == 0 and
                              drifted(sleeves, qty, marks_f, targets, threshold, t)):
                needs[N_REBALANCE] = 1  # `run` rebalances (Python plans it), then the strategies are asked
                return pause(counters, t, P_STRATEGIES, 0)
            phase = P_STRATEGIES
            counters[CT_SLEEVE_AT] = 0
        if phase == P_STRATEGIES:  # the strategies due
            for i in range(counters[CT_SLEEVE_AT], n_sleeves):
                held = counters[CT_HELD]
                failed = False
                if held < 0:
                    if sleeves[i, SL_FAILED] or not (due[t, i] or sleeves[i, SL_RECHECK]):
                        continue
                    if kinds[i] == RULE and not orders_fit(needs, counters, orders, extras, signals, signal_floats,
                                                           n_symbols):
                        return pause(counters, t, P_STRATEGIES, i)
                    sleeves[i, SL_RECHECK] = 0
                    counters[CT_OPTIONS] = 0
                    if kinds[i] == RULE:
                        count = rule_signals(conditions, rule_entry[i], rule_exit[i], rule_short[i], rule_weight[i],
                                             qty, t, i, symbols, sides, sig_weights, reasons, rule_entry_reason[i],
                                             rule_exit_reason[i])
                        if rule_opts[i, OP_SIGNAL] >= 0:  # a rule with order options: on each entry
                            rule_options(opts, rule_opts, i, sides, count, counters)
                    else:
                        count = _call_strategy(key, i, t)
                else:  # a Python strategy's signals, taken before `run` made room for them
                    count = held
                    counters[CT_HELD] = -1
                if kinds[i] != RULE:  # its signals are in symbols, sides, sig_weights and reasons
                    failed = count < 0  # the strategy raised (after `-count - 1` valid signals)
                    valid = -count - 1 if failed else count
                    if not orders_fit(needs, counters, orders, extras, signals, signal_floats, valid):
                        counters[CT_HELD] = count
                        return pause(counters, t, P_STRATEGIES, i)
                    count = valid
                state = 0
                if count > 0:
                    sleeves[i, SL_RECHECK] = 1
                    state = take_signals(key, orders, extras, signals, signal_floats, sleeves, qty, basis, pending,
                                         queue, counters, marks_f, t, i, symbols, sides, sig_weights, reasons, count,
                                         allow_short, lot, equity_at, equity, opts, counters[CT_OPTIONS], protect,
                                         spec)
                    if state == 2:
                        _sleeve_limit(key, i, t, equity[i])
                if failed or state == 2:
                    if isolated:
                        sleeves[i, SL_FAILED] = 1
                        sleeves[i, SL_RECHECK] = 0
                        drop_pending(orders, extras, sleeves, pending, queue, counters, i, t, CANCELLED,
                                     R_SLEEVE_FAILED, i)
                        for j in range(n_symbols):
                            unprotect(protect, sleeves, counters, i, j)
                        continue
                    counters[CT_STATUS] = FAILED if failed else LIMIT
                    counters[CT_STOP_BAR] = t
                    counters[CT_STOP_SLEEVE] = i
                    return t
            phase = P_CLOSE
        # fills at the close
        if close_mode and counters[CT_WAITING] > 0:
            done = fill_bar(t, key, orders, extras, sleeves, qty, basis, pending, queue, counters, fills, conflicts,
                            conflict_orders, transfers, has_bar, buy, sell, base, c_num, c_den, fee, lot, clip,
                            isolated, mode, nets, ranks, weights, payees, scratch, group, needs, protect, spec,
                            ohlc, s_num, s_den, close_mode, True)
            if done == ROOM:
                return pause(counters, t, P_CLOSE, 0)
            if done == LIMIT:
                return t
        if counters[CT_PROTECTED] > 0:
            ratchet(t, protect, sleeves, ohlc, has_bar)
        if book_cash.shape[0] > 0:
            keep_books(book_cash, book_equity, book_qty, sleeves, qty, marks_f, t)
        if alloc_equity.shape[0] > 0:
            track_sleeves(alloc_equity, alloc_flow, sleeves, qty, marks_f, transfers, counters, t)
        t += 1
        phase = P_OPEN
    return pause(counters, t, P_OPEN, 0)


@njit(cache=True)
def rebalance_now(key, t, sleeves, pending, queue, counters, orders, transfers, payees):
    """Rebalance at bar t by the plan Python makes (`_rebalance`): cash moved between sleeves,
    orders placed, what each sleeve still lacks kept for `pay_out`. A plan numbered below 0 says
    the allocation policy failed: the run stops at t (FAILED, stop sleeve = the number of sleeves)."""
    plan, moved, lacks, rebalance = _rebalance(key, t)
    if rebalance < 0:
        counters[CT_STATUS] = FAILED
        counters[CT_STOP_BAR] = t
        counters[CT_STOP_SLEEVE] = sleeves.shape[0]
        return
    counters[CT_REBALANCES] += 1
    for i in range(sleeves.shape[0]):
        payees[rebalance, i] = lacks[i]
        if moved[i] != 0:
            sleeves[i, SL_CASH] += moved[i]
            sleeves[i, SL_ALLOCATED] += moved[i]
            record_transfer(counters, transfers, rebalance, t, i, moved[i])
    for k in range(plan.shape[0]):
        place(orders, sleeves, pending, queue, counters, plan[k, 0], plan[k, 1], plan[k, 2], t, rebalance)


@hot
def track_sleeves(alloc_equity, alloc_flow, sleeves, qty, marks_f, transfers, counters, t):
    """Each sleeve's equity at the marks of bar t and the net cash transferred into it on bar t
    so far (units, floats): what its return at t, (E_t - F_t) / E_(t-1) - 1, is made of (SPEC §7).
    Transfers are recorded in bar order, so bar t's are the last ones."""
    for i in range(qty.shape[0]):
        alloc_equity[t, i] = equity_float(sleeves, qty, marks_f, t, i)
        alloc_flow[t, i] = 0.0
    n = counters[CT_TRANSFERS] - 1
    while n >= 0 and transfers[n, TR_BAR] == t:
        alloc_flow[t, transfers[n, TR_SLEEVE]] += transfers[n, TR_AMOUNT] / MICRO
        n -= 1


@hot
def drifted(sleeves, qty, marks_f, targets, threshold, t) -> bool:
    """Whether some sleeve's share of the total equity at bar t is more than `threshold` from
    its target."""
    n_sleeves = qty.shape[0]
    total = 0.0
    for i in range(n_sleeves):
        total += equity_float(sleeves, qty, marks_f, t, i)
    if total <= 0.0:
        return False
    drift = 0.0
    for i in range(n_sleeves):
        drift = max(drift, abs(equity_float(sleeves, qty, marks_f, t, i) / total - targets[i]))
    return drift > threshold


@njit(cache=True)
def run(key, start, stop, due, kinds, rule_entry, rule_exit, rule_short, rule_weight, rule_entry_reason,
        rule_exit_reason, conditions, has_bar, marks_f, buy, sell, base, c_num, c_den, fee, lot, clip,
        allow_short, close_mode, isolated, mode, nets, ranks, weights, threshold, every, targets, sleeves, qty, basis,
        pending, queue, counters, orders, extras, signals, signal_floats, fills, conflicts, conflict_orders,
        transfers, payees, book_cash, book_equity, book_qty, symbols, sides, sig_weights, reasons, group, alloc_due,
        alloc_equity, alloc_flow, ohlc, s_num, s_den, protect, spec, opts, rule_opts):
    """Step bars start..stop-1 (see the module docstring and `step`); the records, grown as
    needed, are returned in the order given (`extras`, the orders' extras, last).
    `counters[CT_STATUS]` says how it ended: DONE, or FAILED / LIMIT at `counters[CT_STOP_BAR]`
    for `counters[CT_STOP_SLEEVE]`. Where `book_cash` has rows, each sleeve's cash, equity and
    positions at the end of every bar stepped are kept in `book_cash`, `book_equity` and
    `book_qty` (see keep_books). The caller's buffers: a due
    strategy's signals (`symbols`, `sides`, `sig_weights`, `reasons`: room for the most one call
    may return, written by Python strategies themselves) and a conflict's orders for a Python
    resolver (`group` [sleeves, 4]: order row, sleeve, quantity, and whether it stands). With an
    allocation policy, `alloc_due` says which bars are allocation dates (a rebalance to the
    targets Python sets then) and `alloc_equity` / `alloc_flow` [bars, sleeves] keep each sleeve's
    equity and net transfers per bar (see track_sleeves); all three are empty without one.
    Order options (SPEC §8): `ohlc` the bars ([bar, field, symbol] floats, fields as
    sqlorch.bars.panel), `s_num / s_den` the slippage rate, `protect` and `spec` the protective
    orders of positions and of pending orders (layout PR_*, SP_*), `opts` a buffer for the order
    options of a call's signals (Python strategies write rows there and their number in
    counters[CT_OPTIONS]), `rule_opts` each rule's options (OP_SIGNAL -1: none)."""
    n_sleeves, n_symbols = qty.shape
    equity_at = np.full(n_sleeves, -1, dtype=np.int64)
    equity = np.zeros(n_sleeves, dtype=np.float64)
    scratch = np.zeros((16, max(n_symbols, n_sleeves) + 16), dtype=np.int64)
    needs = np.zeros(7, dtype=np.int64)
    counters[CT_PHASE] = P_OPEN
    counters[CT_HELD] = -1
    t = start
    while True:
        t = step(key, t, stop, due, kinds, rule_entry, rule_exit, rule_short, rule_weight, rule_entry_reason,
                 rule_exit_reason, conditions, has_bar, marks_f, buy, sell, base, c_num, c_den, fee, lot,
                 clip, allow_short, close_mode, isolated, mode, nets, ranks, weights, threshold, every, targets,
                 sleeves, qty, basis, pending, queue, counters, orders, extras, signals, signal_floats, fills,
                 conflicts, conflict_orders, transfers, payees, book_cash, book_equity, book_qty, symbols, sides,
                 sig_weights, reasons, equity_at, equity, scratch, group, needs, alloc_due, alloc_equity, alloc_flow,
                 ohlc, s_num, s_den, protect, spec, opts, rule_opts)
        if counters[CT_STATUS] != 0 or t >= stop:
            break
        # make the room `step` asked for
        orders = grown(orders, counters[CT_ORDERS], 2 * needs[N_ORDERS])
        extras = grown(extras, counters[CT_EXTRAS], 2 * needs[N_ORDERS])
        signals = grown(signals, counters[CT_SIGNALS], needs[N_SIGNALS])
        signal_floats = grown(signal_floats, counters[CT_SIGNALS], needs[N_SIGNALS])
        fills = grown(fills, counters[CT_FILLS], needs[N_FILLS])
        conflicts = grown(conflicts, counters[CT_CONFLICTS], needs[N_CONFLICTS])
        conflict_orders = grown(conflict_orders, counters[CT_CONFLICT_ORDERS], needs[N_CONFLICTS])
        transfers = grown(transfers, counters[CT_TRANSFERS], needs[N_TRANSFERS])
        if needs[N_SCRATCH] > scratch.shape[1]:
            scratch = np.zeros((16, max(needs[N_SCRATCH], n_symbols, n_sleeves) + 16), dtype=np.int64)
        if needs[N_REBALANCE]:
            longs = 0
            for i in range(n_sleeves):
                for j in range(n_symbols):
                    longs += qty[i, j] > 0
            orders = grown(orders, counters[CT_ORDERS], longs)
            transfers = grown(transfers, counters[CT_TRANSFERS], n_sleeves)
            payees = grown(payees, payees.shape[0], max(counters[CT_REBALANCES] + 2 - payees.shape[0], 0))
            rebalance_now(key, t, sleeves, pending, queue, counters, orders, transfers, payees)
            equity_at[:] = -1
            if counters[CT_STATUS] != 0:
                break
        needs[:] = 0
    if counters[CT_STATUS] == 0:
        counters[CT_STATUS] = DONE
        counters[CT_BARS] = stop
        # what is still pending expires
        for i in range(n_sleeves):
            drop_pending(orders, extras, sleeves, pending, queue, counters, i, -1, EXPIRED, R_EXPIRED, 0)
    else:
        if book_cash.shape[0] > 0:  # the bar it stopped at, as far as it went
            keep_books(book_cash, book_equity, book_qty, sleeves, qty, marks_f, t)
        counters[CT_BARS] = counters[CT_STOP_BAR] + 1
        for i in range(n_sleeves):
            drop_pending(orders, extras, sleeves, pending, queue, counters, i, -1, CANCELLED, R_RUN_STOPPED,
                         counters[CT_STOP_SLEEVE])
    return orders, signals, signal_floats, fills, conflicts, conflict_orders, transfers, payees, extras


forget_stale(globals(), [arith.__file__, layout.__file__])
