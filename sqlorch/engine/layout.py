"""The column layout of the compiled engine's arrays: its state (sleeves, pending orders) and
its records (orders, signals, fills, conflicts, transfers, rebalances), each a 2-D int64
array with one row per item and the columns named here. Shared by the kernel
(`sqlorch.engine.kernel`) and the Python around it."""

from __future__ import annotations

# sides of a signal
BUY, SELL, EXIT = 0, 1, 2
SIDES = ("buy", "sell", "exit")

# decision kinds (an order's KIND is PENDING until decided)
PENDING, ACCEPTED, CLIPPED, REJECTED, EXPIRED, CANCELLED = -1, 0, 1, 2, 3, 4
KINDS = ("accepted", "clipped", "rejected", "expired", "cancelled")

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

# sleeves: one row each
SL_CASH, SL_ALLOCATED, SL_USED, SL_INITIAL, SL_TRADES, SL_FAILED, SL_RECHECK, SL_PENDING = range(8)
SL_COLUMNS = 8

# orders: the decisions table, one row per order (order_id = row + 1)
(OD_SLEEVE, OD_SYMBOL, OD_QUANTITY, OD_DECIDED, OD_RESOLVED, OD_FILLED, OD_KIND, OD_REASON, OD_A1, OD_A2,
 OD_A3, OD_A4, OD_REBALANCE, OD_EVENT, OD_USED, OD_ALLOCATED) = range(16)
OD_COLUMNS = 16

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
 CT_WAITING, CT_STATUS, CT_STOP_BAR, CT_STOP_SLEEVE, CT_BARS, CT_PHASE, CT_SLEEVE_AT, CT_HELD) = range(16)
CT_COLUMNS = 16
# (CT_PHASE, CT_SLEEVE_AT, CT_HELD: where the kernel resumes a bar after making room for records)

# statuses of a run (CT_STATUS)
RUNNING, DONE, FAILED, LIMIT = 0, 1, 2, 3

# conflict modes the kernel resolves itself; anything else is a Python resolver
NET_SIGNAL, FIRST_WINS, CANCEL_BOTH, WEIGHTED, PYTHON_RESOLVER = range(5)
WEIGHT_SCALE = 10**15  # sleeve weights reach the weighted mode as integers in units of 1e-15

# strategies: compiled rules, or Python on_bar
RULE, PYTHON = 0, 1
