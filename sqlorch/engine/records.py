"""The rows a run produces for the warehouse, as the engine keeps them: typed records, each
table turned into columns only when it is written."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

from sqlorch.engine.orders import Leg, Order


@dataclass(frozen=True)
class Coded:
    """A column of names given by their indexes into `names`: written dictionary-encoded, with
    no string made per row."""

    indexes: list[int]
    names: Sequence[str]

    def __len__(self) -> int:
        return len(self.indexes)

    def decoded(self) -> list[str]:
        """The names, one per row."""
        return [self.names[i] for i in self.indexes]


class Columns:
    """The rows of one warehouse table as one list per column: the writer converts each list
    as it is, without regrouping rows."""

    __slots__ = ("names", "lists")

    def __init__(self, *names: str):
        self.names = names
        self.lists = tuple([] for _ in names)

    @classmethod
    def of(cls, **lists: list | Coded) -> Columns:
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

    def __getitem__(self, name: str) -> list:
        return self.lists[self.names.index(name)]

    def rows(self) -> list[tuple]:
        """The rows as tuples, in column order (names for coded columns)."""
        return list(zip(*(c.decoded() if isinstance(c, Coded) else c for c in self.lists)))


@dataclass(slots=True)
class Conflict:
    """Orders of several sleeves on one symbol at one bar and how the resolver settled them (a
    row of the `conflicts` table; amounts in micro units)."""

    conflict_id: int
    bar_index: int
    symbol: str
    mode: str  # the resolver's name
    strategies: list[str]  # with an order, in strategy-list order
    standing: list[str]  # those whose order stood
    orders: str  # JSON list of {strategy_id, order_id, quantity}
    outcome: str  # in words
    net_quantity: int
    crossed_quantity: int
    commission: int
    commission_standalone: int
    commission_saved: int
    event_seq: int
    logged_at: int


@dataclass(slots=True)
class ConflictOrder:
    """One order of a conflict (a row of `conflict_orders`)."""

    conflict_id: int
    strategy_id: str
    order_id: int
    quantity: int  # micro-shares, signed
    stood: bool


@dataclass(slots=True)
class Transfer:
    """Cash moved into (amount > 0) or out of a sleeve by a rebalance (pico units)."""

    rebalance_id: int
    bar_index: int
    strategy_id: str
    amount: int


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


@dataclass
class Records:
    """A run's rows for the warehouse, kept as cheaply as the stepper can: signals as columns;
    decisions as the decided orders and fills as the booked legs, in the order they happened;
    the rarer rows as typed records. `tables` gives every table as columns named as in the
    warehouse (amounts in integer micro or pico units; bar indexes are stored as timestamps too)."""

    strategy_ids: Sequence[str]  # by sleeve index
    symbols: Sequence[str]  # by symbol index
    signals: Columns = field(default_factory=lambda: Columns(  # sleeve and symbol by index
        "sleeve", "seq", "bar_index", "signal", "symbol", "target_quantity", "order_id", "event_seq",
        "logged_at", "capital_available"))
    decisions: list[Order] = field(default_factory=list)
    fills: list[Leg] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    conflict_orders: list[ConflictOrder] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    rebalances: list[Rebalance] = field(default_factory=list)

    def table(self, name: str) -> Columns:
        """The rows of table `name` as columns named as in the warehouse."""
        built = {"signals": self._signal_columns, "decisions": self._decision_columns,
                 "fills": self._fill_columns}.get(name)
        return built() if built else _columns_of(getattr(self, name), _ROWS[name])

    def tables(self) -> Iterator[tuple[str, Columns]]:
        """(name, `table(name)`) for every table, each built when asked for."""
        for name in ("signals", "decisions", "fills", "conflicts", "conflict_orders", "transfers", "rebalances"):
            yield name, self.table(name)

    def rows(self, name: str) -> list[tuple]:
        """The rows of table `name` as tuples, in its columns' order."""
        return self.table(name).rows()

    def drop(self, name: str) -> None:
        """Forget the rows of table `name` (written: their memory can go)."""
        kept = getattr(self, name)
        setattr(self, name, Columns(*kept.names) if isinstance(kept, Columns) else [])

    def _signal_columns(self) -> Columns:
        kept = self.signals
        signals = kept["signal"]
        return Columns.of(
            strategy_id=Coded(kept["sleeve"], self.strategy_ids), seq=kept["seq"], bar_index=kept["bar_index"],
            symbol=Coded(kept["symbol"], self.symbols), side=[str(s.side) for s in signals],
            weight=[s.weight for s in signals], reason=[s.reason for s in signals],
            target_quantity=kept["target_quantity"], order_id=kept["order_id"], event_seq=kept["event_seq"],
            logged_at=kept["logged_at"], capital_available=kept["capital_available"])

    def _decision_columns(self) -> Columns:
        orders = self.decisions
        return Columns.of(
            order_id=[o.order_id for o in orders], strategy_id=Coded([o.sleeve for o in orders], self.strategy_ids),
            symbol=Coded([o.symbol for o in orders], self.symbols), decided_bar=[o.decided_at for o in orders],
            resolved_bar=[o.resolved_at for o in orders], requested_quantity=[o.quantity for o in orders],
            filled_quantity=[o.filled for o in orders], kind=[str(o.kind) for o in orders],
            reason=[o.reason for o in orders], rebalance_id=[o.rebalance for o in orders])

    def _fill_columns(self) -> Columns:
        legs = self.fills
        orders = [leg.order for leg in legs]
        return Columns.of(
            fill_id=list(range(1, len(legs) + 1)), order_id=[o.order_id for o in orders],
            strategy_id=Coded([o.sleeve for o in orders], self.strategy_ids), bar_index=[leg.bar for leg in legs],
            symbol=Coded([o.symbol for o in orders], self.symbols), quantity=[leg.quantity for leg in legs],
            price=[leg.price for leg in legs], commission=[leg.commission for leg in legs],
            realized_pnl=[leg.realized for leg in legs])


_ROWS = {"conflicts": Conflict, "conflict_orders": ConflictOrder, "transfers": Transfer, "rebalances": Rebalance}


def _columns_of(rows: list, kind: type) -> Columns:
    """Typed records as columns named after their fields."""
    names = [f.name for f in fields(kind)]
    return Columns.of(**{name: [getattr(row, name) for row in rows] for name in names})
