"""The column layout of the compiled engine's arrays: its state (sleeves, pending orders) and
its records (orders, signals, fills, conflicts, transfers, rebalances), each a 2-D int64
array with one row per item and the columns named here. Shared by the kernel
(`sqlorch.engine.kernel`) and the Python around it."""

from __future__ import annotations

# sides of a signal
BUY, SELL, EXIT = 0, 1, 2
SIDES = ("buy", "sell", "exit")

# decision kinds (an order's KIND is PENDING until decided)
PENDING, ACCEPTED, CLIPPED, REJECTED, EXPIRED, CANCELLED, TRIGGERED = -1, 0, 1, 2, 3, 4, 5
KINDS = ("accepted", "clipped", "rejected", "expired", "cancelled", "triggered")

# order types (an order's OD_TYPE; SPEC §8): market orders, entries with a price condition, and
# the protective orders that fire on a position (an order row only once triggered)
OT_MARKET, OT_LIMIT, OT_STOP, OT_STOP_LOSS, OT_TAKE_PROFIT, OT_TRAILING_STOP = range(6)
ORDER_TYPES = ("market", "limit", "stop", "stop_loss", "take_profit", "trailing_stop")

# why an order was decided as it was (its REASON), with the order's A1..A4 columns as details
R_NONE = 0  # accepted
R_SHORTFALL = 1  # clipped or rejected: A1 cost, A2 quantity asked, A3 price, A4 available (micro)
R_NEWER_SIGNAL = 2  # cancelled: replaced by a newer signal at bar A1
R_REBALANCING = 3  # cancelled: replaced by a rebalancing order at bar A1
R_NO_PRICE = 4  # rejected: the symbol had no price yet
R_EXPIRED = 5  # expired: no bar of the symbol after the signal
R_RUN_STOPPED = 6  # cancelled: the run stopped when sleeve A1's strategy failed
R_SLEEVE_FAILED = 7  # cancelled: its own strategy failed (isolated sleeves)
R_CONFLICT = 8  # cancelled: conflict A1 on its symbol (its standing orders named there)
R_TRIGGERED = 9  # triggered: a protective order whose trigger price A1 was reached
R_UNFILLED = 10  # expired: a limit or stop entry not reached by bar A1 (-1: by the end of the run)
R_CLOSED = 11  # cancelled: the position it would reduce was closed by a protective order at bar A1

# sleeves: one row each
# (SL_PROTECTED: how many of its positions have protective orders)
SL_CASH, SL_ALLOCATED, SL_USED, SL_INITIAL, SL_TRADES, SL_FAILED, SL_RECHECK, SL_PENDING, SL_PROTECTED = range(9)
SL_COLUMNS = 9

# orders: the decisions table, one row per order (order_id = row + 1)
# OD_REBALANCE: the rebalance that placed it (>= 0); NO_REBALANCE for a strategy's market order without
# options; for an order with options or a protective order, -2 - its row of `extras`
(OD_SLEEVE, OD_SYMBOL, OD_QUANTITY, OD_DECIDED, OD_RESOLVED, OD_FILLED, OD_KIND, OD_REASON, OD_A1, OD_A2,
 OD_A3, OD_A4, OD_REBALANCE, OD_EVENT, OD_USED, OD_ALLOCATED) = range(16)
OD_COLUMNS = 16  # 128 bytes a row: a wider row costs every run a cache line per order
NO_REBALANCE = -1

# the extras of the orders that have some (SPEC §8), one row each ([rows, EX_COLUMNS]; an order
# without is a market order): EX_TYPE its order type (OT_*); EX_TRIGGER a limit or stop entry's
# price, or the price a protective order triggered at (micro); EX_EXPIRES the last bar a limit or
# stop entry may fill at + 1 (0: until filled); EX_PRICE the price a triggered entry fills at this
# bar; EX_SPEC 1 if it attaches protective orders (its sleeve and symbol's row of `spec`) when it fills
EX_TYPE, EX_TRIGGER, EX_EXPIRES, EX_PRICE, EX_SPEC = range(5)
EX_COLUMNS = 5

# protective orders of a position, per sleeve and symbol ([sleeves, symbols, PR_COLUMNS]):
# PR_SIDE 1 long, -1 short, 0 none; live from bar PR_LIVE; the stop (PR_STOP micro, 0 none, of type
# PR_STOP_TYPE: OT_STOP_LOSS or OT_TRAILING_STOP, trailing by PR_TRAIL_NUM / PR_TRAIL_DEN); the
# take-profit (PR_TAKE micro, 0 none); PR_DEFER the row + 1 of a market order that reduces the
# position and fills first at this open (0: none)
PR_SIDE, PR_LIVE, PR_STOP, PR_STOP_TYPE, PR_TAKE, PR_TRAIL_NUM, PR_TRAIL_DEN, PR_DEFER = range(8)
PR_COLUMNS = 8

# what a pending order attaches when it fills, per sleeve and symbol ([sleeves, symbols, SP_COLUMNS]):
# the side it protects; a stop-loss fraction (num / den, den 0: none) or price (micro, 0: none); a
# take-profit likewise; a trailing stop's fraction
(SP_SIDE, SP_STOP_NUM, SP_STOP_DEN, SP_STOP_PRICE, SP_TAKE_NUM, SP_TAKE_DEN, SP_TAKE_PRICE, SP_TRAIL_NUM,
 SP_TRAIL_DEN) = range(9)
SP_COLUMNS = 9

# the order options of the signals of one call (one row per signal that has some, in signal order):
# the signal's index in the call, its entry type (OT_MARKET, OT_LIMIT, OT_STOP), the entry's price
# (micro), `expires` (bars, 0: until filled), 1 if it attaches protective orders, then SP_COLUMNS
# columns as `spec` holds them
OP_SIGNAL, OP_TYPE, OP_PRICE, OP_EXPIRES, OP_PROTECT, OP_SPEC = range(6)
OP_COLUMNS = OP_SPEC + SP_COLUMNS

# signals: SG_TARGET is meaningful where SG_HAS_TARGET; SG_ORDER is an order row + 1, or 0
SG_SLEEVE, SG_BAR, SG_SYMBOL, SG_SIDE, SG_REASON, SG_TARGET, SG_HAS_TARGET, SG_ORDER, SG_EVENT = range(9)
SG_COLUMNS = 9
SGF_WEIGHT, SGF_CAPITAL = range(2)  # the signals' float columns

# fills, in booking order (FL_CASH: the sleeve's cash after the fill)
FL_ORDER, FL_SLEEVE, FL_BAR, FL_SYMBOL, FL_QUANTITY, FL_PRICE, FL_COMMISSION, FL_REALIZED, FL_CASH = range(9)
FL_COLUMNS = 9

# conflicts, and their orders
(CF_BAR, CF_SYMBOL, CF_NET, CF_CROSSED, CF_COMMISSION, CF_STANDALONE, CF_SAVED, CF_EVENT, CF_PRICE,
 CF_NETS) = range(10)
CF_COLUMNS = 10
CO_CONFLICT, CO_SLEEVE, CO_ORDER, CO_QUANTITY, CO_STOOD = range(5)
CO_COLUMNS = 5

# counters
(CT_ORDERS, CT_SIGNALS, CT_FILLS, CT_CONFLICTS, CT_CONFLICT_ORDERS, CT_TRANSFERS, CT_REBALANCES, CT_EVENT,
 CT_WAITING, CT_STATUS, CT_STOP_BAR, CT_STOP_SLEEVE, CT_BARS, CT_PHASE, CT_SLEEVE_AT, CT_HELD, CT_PROTECTED,
 CT_OPTIONS, CT_DEFERRED, CT_EXTRAS) = range(20)
CT_COLUMNS = 20
# (CT_PROTECTED: positions with protective orders, all sleeves; CT_OPTIONS: rows of order options a
# Python strategy's call wrote; CT_DEFERRED: positions whose protective orders wait for a market order;
# CT_EXTRAS: rows of `extras`)
# (CT_PHASE, CT_SLEEVE_AT, CT_HELD: where the kernel resumes a bar after making room for records)

# statuses of a run (CT_STATUS)
RUNNING, DONE, FAILED, LIMIT = 0, 1, 2, 3

# conflict modes the kernel resolves itself; anything else is a Python resolver
NET_SIGNAL, FIRST_WINS, CANCEL_BOTH, WEIGHTED, PYTHON_RESOLVER = range(5)
WEIGHT_SCALE = 10**15  # sleeve weights reach the weighted mode as integers in units of 1e-15

# strategies: compiled rules, or Python on_bar
RULE, PYTHON = 0, 1
