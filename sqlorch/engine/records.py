"""The rows a run produces for the warehouse, as the compiled engine keeps them: 2-D int64
arrays laid out as `sqlorch.engine.layout` says (see `Records`), turned into columns only
when written, without a Python object per row (`tables`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from sqlorch.engine import layout as L


@dataclass(frozen=True)
class Coded:
    """A column of names given by their indexes into `names`: written dictionary-encoded, with
    no string made per row."""

    indexes: np.ndarray | list[int]
    names: Sequence[str]

    def __len__(self) -> int:
        return len(self.indexes)

    def decoded(self) -> list[str]:
        """The names, one per row."""
        return [self.names[i] for i in np.asarray(self.indexes).tolist()]


@dataclass(frozen=True)
class Amount:
    """A column of integer amounts in units of 10^-scale (DECIMAL in the warehouse); NULL where
    `valid` is False. `values` is an int64 array, or a list of Python ints where they may pass 64
    bits (pico units)."""

    values: np.ndarray | list[int]
    scale: int
    valid: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Lists:
    """A column of lists of names: row k holds `names[bounds[k]:bounds[k + 1]]` (an object array
    of str), written as one flat column and its offsets, with no list made per row."""

    bounds: np.ndarray
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def decoded(self) -> list[list[str]]:
        """The lists, one per row."""
        return [self.names[a:b].tolist() for a, b in zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist())]


@dataclass(frozen=True)
class Nullable:
    """A column of integers, NULL where `valid` is False."""

    values: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


class Columns:
    """The rows of one warehouse table as one list (or array) per column: the writer converts
    each as it is, without regrouping rows."""

    __slots__ = ("names", "lists")

    def __init__(self, *names: str):
        self.names = names
        self.lists = tuple([] for _ in names)

    @classmethod
    def of(cls, **lists) -> Columns:
        """Columns holding these lists, named as given."""
        columns = cls(*lists)
        columns.lists = tuple(lists.values())
        return columns

    def append(self, row: tuple) -> None:
        """Add one row, its values in column order."""
        for values, value in zip(self.lists, row):
            values.append(value)

    def __len__(self) -> int:
        return len(self.lists[0])

    def __getitem__(self, name: str):
        return self.lists[self.names.index(name)]

    def rows(self) -> list[tuple]:
        """The rows as tuples, in column order (names for coded columns, None for NULL)."""
        return list(zip(*(_plain(c) for c in self.lists)))


def _plain(column) -> list:
    if isinstance(column, (Coded, Lists)):
        return column.decoded()
    if isinstance(column, (Amount, Nullable)):
        valid = column.valid if column.valid is not None else np.ones(len(column), dtype=bool)
        return [v if ok else None for v, ok in zip(np.asarray(column.values).tolist(), valid.tolist())]
    return list(column.tolist() if isinstance(column, np.ndarray) else column)


@dataclass(slots=True)
class Rebalance:
    """One sleeve in one rebalance: its equity and share before, its target, what moved (pico)."""

    rebalance_id: int
    bar_index: int
    strategy_id: str
    equity_before: int
    share_before: float
    target_share: float
    target_equity: int
    cash_moved: int
    position_trade: int


@dataclass(slots=True)
class AllocationTarget:
    """One sleeve on one allocation date (SPEC §7): its share of the sleeves' equity at the close
    before the move, the policy's target weight (the targets sum to the budget) and what the
    policy weighed (e.g. the per-bar volatility; None if nothing)."""

    bar: int
    strategy_id: str
    policy: str
    share_before: float
    target: float
    statistic: float | None


@dataclass(frozen=True)
class Books:
    """What the engine held at the end of every bar it stepped, per sleeve: `cash` [bars,
    sleeves] in micro units, `equity` [bars, sleeves] as floats (cash plus positions at the
    bar's marks) and `positions` [bars, sleeves, symbols] in micro-shares. Kept only when asked
    for (`Stepper(books=True)`): the warehouse's books are SQL's, and tests hold the two equal."""

    cash: np.ndarray
    equity: np.ndarray
    positions: np.ndarray


@dataclass
class Records:
    """A run's records: the engine's arrays (`orders`, `signals`, `signal_floats`, `fills`,
    `conflicts`, `conflict_orders`, `transfers`; rows up to `counters`), the names they index
    (`strategy_ids`, `symbols`, `reasons` of signals, `mode` of the conflicts) and the rarer
    rows kept in Python (`rebalances`, `allocation_targets`). `logged_at` is the wall-clock time (microseconds since
    the epoch) the engine's events are stamped with. `signal_orders` (signal row -> JSON) and
    `rule_orders` (sleeve -> JSON, on each of its entries) are the order options signals carried;
    `extras` the orders' types and trigger prices where they have some (see `order_types`)."""

    strategy_ids: Sequence[str]
    symbols: Sequence[str]
    orders: np.ndarray
    signals: np.ndarray
    signal_floats: np.ndarray
    fills: np.ndarray
    conflicts: np.ndarray
    conflict_orders: np.ndarray
    transfers: np.ndarray
    counters: np.ndarray
    reasons: Sequence[str] = ()
    mode: str = ""
    logged_at: int = 0
    rebalances: list[Rebalance] = field(default_factory=list)
    allocation_targets: list[AllocationTarget] = field(default_factory=list)
    signal_orders: dict[int, str] = field(default_factory=dict)
    rule_orders: dict[int, str] = field(default_factory=dict)
    extras: np.ndarray | None = None  # the orders' extras (layout EX_*), rows up to counters[CT_EXTRAS]

    def count(self, table: str) -> int:
        """How many rows a table of the engine has."""
        return int(self.counters[_COUNTERS[table]])

    def rows_of(self, table: str) -> np.ndarray:
        """The used rows of an engine table."""
        return getattr(self, table)[: self.count(table)]

    def table(self, name: str) -> Columns:
        """The rows of table `name` as columns named as in the warehouse."""
        return getattr(self, "_" + name)()

    def tables(self) -> Iterator[tuple[str, Columns]]:
        """(name, `table(name)`) for every table, each built when asked for."""
        for name in ("signals", "decisions", "fills", "conflicts", "conflict_orders", "transfers", "rebalances",
                     "allocation_targets"):
            yield name, self.table(name)

    def rows(self, name: str) -> list[tuple]:
        """The rows of table `name` as tuples, in its columns' order."""
        return self.table(name).rows()

    # -- the tables -------------------------------------------------------------------------------

    def _signals(self) -> Columns:
        s = self.rows_of("signals")
        f = self.signal_floats[: len(s)]
        return Columns.of(
            strategy_id=Coded(s[:, L.SG_SLEEVE], self.strategy_ids), seq=np.arange(len(s)),
            bar_index=s[:, L.SG_BAR], symbol=Coded(s[:, L.SG_SYMBOL], self.symbols),
            side=Coded(s[:, L.SG_SIDE], L.SIDES), weight=f[:, L.SGF_WEIGHT],
            reason=Coded(s[:, L.SG_REASON], self.reasons),
            target_quantity=Amount(s[:, L.SG_TARGET], 6, s[:, L.SG_HAS_TARGET] == 1),
            order_id=Nullable(s[:, L.SG_ORDER], s[:, L.SG_ORDER] > 0), event_seq=s[:, L.SG_EVENT],
            logged_at=np.full(len(s), self.logged_at, dtype=np.int64), capital_available=f[:, L.SGF_CAPITAL],
            orders=self._signal_options(s))

    def _signal_options(self, s: np.ndarray) -> Coded:
        """Each signal's order options as JSON (NULL where it had none): a rule's on its entries,
        a Python strategy's as it gave them."""
        names: list[str | None] = [None]
        codes = np.zeros(len(s), dtype=np.int64)
        for sleeve, text in self.rule_orders.items():
            names.append(text)
            codes[(s[:, L.SG_SLEEVE] == sleeve) & (s[:, L.SG_SIDE] != L.EXIT)] = len(names) - 1
        if self.signal_orders:
            index: dict[str, int] = {}
            for row, text in self.signal_orders.items():
                if row < len(s):
                    if text not in index:
                        index[text] = len(names)
                        names.append(text)
                    codes[row] = index[text]
        return Coded(codes, names)

    def _decisions(self) -> Columns:
        o = self.rows_of("orders")
        return Columns.of(
            order_id=np.arange(1, len(o) + 1), strategy_id=Coded(o[:, L.OD_SLEEVE], self.strategy_ids),
            symbol=Coded(o[:, L.OD_SYMBOL], self.symbols), decided_bar=o[:, L.OD_DECIDED],
            resolved_bar=Nullable(o[:, L.OD_RESOLVED], o[:, L.OD_RESOLVED] >= 0),
            requested_quantity=Amount(o[:, L.OD_QUANTITY], 6), filled_quantity=Amount(o[:, L.OD_FILLED], 6),
            kind=Coded(o[:, L.OD_KIND], L.KINDS), reason=self.decision_reasons(),
            rebalance_id=Nullable(o[:, L.OD_REBALANCE], o[:, L.OD_REBALANCE] >= 0),
            order_type=Coded(self.order_types(o), L.ORDER_TYPES),
            trigger_price=Amount(self._extra_column(o, L.EX_TRIGGER), 6, o[:, L.OD_KIND] == L.TRIGGERED))

    def _fills(self) -> Columns:
        f = self.rows_of("fills")
        return Columns.of(
            fill_id=np.arange(1, len(f) + 1), order_id=f[:, L.FL_ORDER] + 1,
            strategy_id=Coded(f[:, L.FL_SLEEVE], self.strategy_ids), bar_index=f[:, L.FL_BAR],
            symbol=Coded(f[:, L.FL_SYMBOL], self.symbols), quantity=Amount(f[:, L.FL_QUANTITY], 6),
            price=Amount(f[:, L.FL_PRICE], 6), commission=Amount(f[:, L.FL_COMMISSION], 6),
            realized_pnl=Amount(f[:, L.FL_REALIZED], 6),
            order_type=Coded(self.order_types(self.orders[f[:, L.FL_ORDER]]), L.ORDER_TYPES))

    def order_types(self, rows: np.ndarray) -> np.ndarray:
        """The order type (an index into layout.ORDER_TYPES) of each of these order rows."""
        return self._extra_column(rows, L.EX_TYPE)

    def _extra_column(self, rows: np.ndarray, column: int) -> np.ndarray:
        """A column of the extras of these order rows (0 where an order has none)."""
        values = np.zeros(len(rows), dtype=np.int64)
        rebalance = rows[:, L.OD_REBALANCE]
        has = rebalance <= -2
        if has.any() and self.extras is not None:
            values[has] = self.extras[-2 - rebalance[has], column]
        return values

    def _conflicts(self) -> Columns:
        """One row per conflict: its amounts as columns of the engine's table, its lists of
        strategies as Arrow lists and its texts built column-wise (each strategy id quoted once)."""
        c = self.rows_of("conflicts")
        co = self.rows_of("conflict_orders")
        co = co[np.argsort(co[:, L.CO_CONFLICT], kind="stable")]
        bounds = np.searchsorted(co[:, L.CO_CONFLICT], np.arange(len(c) + 1))
        names = np.array(self.strategy_ids + [""], dtype=object)[co[:, L.CO_SLEEVE]]
        stood = co[:, L.CO_STOOD] == 1
        standing_bounds = np.concatenate(([0], np.cumsum(stood)))[bounds]
        quoted = np.array([_json(sid) for sid in self.strategy_ids] + [""], dtype=object)[co[:, L.CO_SLEEVE]]
        quantities = (self.orders[co[:, L.CO_ORDER], L.OD_QUANTITY] / 1_000_000).tolist()
        fragments = [f'{{"strategy_id":{q},"order_id":{o},"quantity":{n!r}}}'
                     for q, o, n in zip(quoted.tolist(), (co[:, L.CO_ORDER] + 1).tolist(), quantities)]
        spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
        listed = ["[" + ",".join(fragments[a:b]) + "]" for a, b in spans]
        outcomes = [netted(row) if row[L.CF_NETS] else conflict_outcome(row, names[a:b].tolist(),
                                                                          names[a:b][stood[a:b]].tolist())
                    for row, (a, b) in zip(c.tolist(), spans)]
        return Columns.of(
            conflict_id=np.arange(1, len(c) + 1), bar_index=c[:, L.CF_BAR],
            symbol=Coded(c[:, L.CF_SYMBOL], self.symbols), mode=[self.mode] * len(c),
            strategies=Lists(bounds, names), standing=Lists(standing_bounds, names[stood]), orders=listed,
            outcome=outcomes, net_quantity=Amount(c[:, L.CF_NET], 6), crossed_quantity=Amount(c[:, L.CF_CROSSED], 6),
            commission=Amount(c[:, L.CF_COMMISSION], 6), commission_standalone=Amount(c[:, L.CF_STANDALONE], 6),
            commission_saved=Amount(c[:, L.CF_SAVED], 6), event_seq=c[:, L.CF_EVENT],
            logged_at=np.full(len(c), self.logged_at, dtype=np.int64))

    def _conflict_orders(self) -> Columns:
        co = self.rows_of("conflict_orders")
        orders = self.orders
        return Columns.of(
            conflict_id=co[:, L.CO_CONFLICT] + 1, strategy_id=Coded(co[:, L.CO_SLEEVE], self.strategy_ids),
            order_id=co[:, L.CO_ORDER] + 1, quantity=Amount(orders[co[:, L.CO_ORDER], L.OD_QUANTITY], 6),
            stood=co[:, L.CO_STOOD] == 1)

    def _transfers(self) -> Columns:
        tr = self.rows_of("transfers")
        return Columns.of(rebalance_id=tr[:, 0], bar_index=tr[:, 1], strategy_id=Coded(tr[:, 2], self.strategy_ids),
                          amount=Amount(tr[:, 3], 6))

    def _rebalances(self) -> Columns:
        names = [f.name for f in fields(Rebalance)]
        rows = self.rebalances
        lists = {name: [getattr(row, name) for row in rows] for name in names}
        for name in ("equity_before", "target_equity", "cash_moved", "position_trade"):  # pico units: a sleeve
            lists[name] = Amount([int(v) for v in lists[name]], 12)  # of 9.3e6 is past int64, so Python ints
        return Columns.of(**lists)

    def _allocation_targets(self) -> Columns:
        names = [f.name for f in fields(AllocationTarget)]
        lists = {name: [getattr(row, name) for row in self.allocation_targets] for name in names}
        lists["bar"] = np.array(lists["bar"], dtype=np.int64)
        return Columns.of(**lists)

    # -- texts ---------------------------------------------------------------------------------------

    def _conflict_members(self) -> list[list[tuple[int, int, int, int]]]:
        """Per conflict: (sleeve, order row, quantity, stood) of its orders, in order."""
        members: list[list[tuple[int, int, int, int]]] = [[] for _ in range(self.count("conflicts"))]
        orders = self.orders
        for conflict, sleeve, row, _, stood in self.rows_of("conflict_orders").tolist():
            members[conflict].append((sleeve, row, int(orders[row, L.OD_QUANTITY]), stood))
        return members

    def decision_reasons(self) -> Coded:
        """Each order's reason as text: a few fixed phrases with the symbol, the bar or the
        strategy filled in, each made once per distinct phrase; shortfalls and conflicts (rarer)
        once per order."""
        o = self.rows_of("orders")
        reason, a1 = o[:, L.OD_REASON], o[:, L.OD_A1]
        value = np.where(np.isin(reason, _BY_SYMBOL), o[:, L.OD_SYMBOL], a1)
        codes = np.zeros(len(o), dtype=np.int64)
        names: list[str] = []
        varied = np.isin(reason, (L.R_SHORTFALL, L.R_CONFLICT))
        fixed = np.flatnonzero(~varied)
        if len(fixed):  # one text per distinct (reason, value): a key of the two, made unique
            low = int(value[fixed].min())
            span = int(value[fixed].max()) - low + 1
            unique, inverse = np.unique(reason[fixed] * span + (value[fixed] - low), return_inverse=True)
            names = [self._reason_text(key // span, key % span + low, None) for key in unique.tolist()]
            codes[fixed] = inverse.ravel()
        if varied.any():
            members = self._conflict_members() if (reason == L.R_CONFLICT).any() else []
            index = {name: k for k, name in enumerate(names)}
            for k in np.flatnonzero(varied).tolist():
                text = self._reason_text(int(reason[k]), int(a1[k]), o[k], members)
                codes[k] = index.setdefault(text, len(names))
                if codes[k] == len(names):
                    names.append(text)
        return Coded(codes, names)

    def _reason_text(self, code: int, value: int, order: np.ndarray | None, members: list | None = None) -> str:
        if code == L.R_NONE:
            return ""
        if code == L.R_NEWER_SIGNAL:
            return f"replaced by a newer signal at bar {value}"
        if code == L.R_REBALANCING:
            return f"replaced by a rebalancing order at bar {value}"
        if code == L.R_NO_PRICE:
            return f"no price for {self.symbols[value]} yet"
        if code == L.R_EXPIRED:
            return f"no bar of {self.symbols[value]} after the signal"
        if code == L.R_RUN_STOPPED:
            if value >= len(self.strategy_ids):
                return "run stopped: the allocation policy failed"
            return f"run stopped: strategy {self.strategy_ids[value]!r} failed"
        if code == L.R_TRIGGERED:
            return f"triggered at {value / 1e6:g}"
        if code == L.R_UNFILLED:
            return "price not reached by the end of the run" if value < 0 else f"price not reached by bar {value}"
        if code == L.R_CLOSED:
            return f"the position was closed by a protective order at bar {value}"
        if code == L.R_SLEEVE_FAILED:
            return f"strategy {self.strategy_ids[value]!r} failed"
        if code == L.R_SHORTFALL:
            cost, quantity, price, available = (int(order[c]) for c in (L.OD_A1, L.OD_A2, L.OD_A3, L.OD_A4))
            return (f"needs {cost / 1e6:.2f} for {quantity / 1e6:g} at {price / 1e6:g}, "
                    f"{available / 1e6:.2f} available")
        # a conflict: its standing orders by strategy
        standing = [self.strategy_ids[sleeve] for sleeve, _, _, stood in members[value] if stood] or ["none"]
        symbol = self.symbols[int(order[L.OD_SYMBOL])]
        return f"conflict on {symbol}: {self.mode} kept {', '.join(standing)}"


_BY_SYMBOL = (L.R_NO_PRICE, L.R_EXPIRED)
_COUNTERS = {"orders": L.CT_ORDERS, "signals": L.CT_SIGNALS, "fills": L.CT_FILLS, "conflicts": L.CT_CONFLICTS,
             "conflict_orders": L.CT_CONFLICT_ORDERS, "transfers": L.CT_TRANSFERS}


def conflict_outcome(row: Sequence[int], strategies: list[str], standing: list[str]) -> str:
    """A conflict's outcome in words: netted (with what crossed and what went to the market),
    which orders stood, or all cancelled."""
    if row[L.CF_NETS]:
        return netted(row)
    if standing:
        cancelled = ", ".join(s for s in strategies if s not in standing) or "none"
        return f"{', '.join(standing)} stood; {cancelled} cancelled"
    return "all cancelled"


def netted(row: Sequence[int]) -> str:
    """A netted conflict's outcome: what crossed internally and what went to the market."""
    net = row[L.CF_NET]
    verb = "bought" if net > 0 else "sold" if net < 0 else "sent"
    return f"netted: {2 * row[L.CF_CROSSED] / 1e6:g} crossed internally, {abs(net) / 1e6:g} {verb} at " \
           f"{row[L.CF_PRICE] / 1e6:g}"


def _json(text: str) -> str:
    from sqlorch.engine.events import quote

    return quote(text)
