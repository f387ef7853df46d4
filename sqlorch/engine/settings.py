"""What the engine needs of a run's configuration, as typed fields (built by
`BacktestConfig.engine_settings`): the engine reads nothing else of the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlorch.engine.costs import Costs
from sqlorch.engine.domain import CapitalPolicy, ConflictMode, FillMode


@dataclass(frozen=True)
class EngineSettings:
    """Costs and lots, when orders fill, what an unaffordable order becomes, shorts; how sleeves
    meet (the conflict resolver's name, priorities by strategy id, 1 highest) and drift
    rebalancing (`rebalance_threshold` None: never). `isolated` sleeves never meet at all: no
    conflicts, no rebalancing, and a strategy that fails ends its own sleeve, not the run (a
    grid search's combinations). `allocation` and the fields after it are the allocation policy
    between sleeves (SPEC §7; see sqlorch.engine.allocation): "fixed" moves no capital."""

    costs: Costs
    fill: FillMode = FillMode.NEXT_OPEN
    allow_short: bool = False
    on_insufficient_capital: CapitalPolicy = CapitalPolicy.CLIP
    conflict_mode: str = ConflictMode.NET_SIGNAL.value
    priorities: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    rebalance_threshold: float | None = None
    rebalance_every: int = 1
    isolated: bool = False
    allocation: Any = "fixed"
    allocation_lookback: int = 63
    allocation_every: str | int = "monthly"
    min_weight: float = 0.0
    max_weight: float = 1.0

    @property
    def close_mode(self) -> bool:
        """Whether orders fill at the close of their own bar (else at the next open)."""
        return self.fill == FillMode.CLOSE

    @property
    def clip(self) -> bool:
        """Whether an unaffordable increase is clipped to what the cash affords (else rejected)."""
        return self.on_insufficient_capital == CapitalPolicy.CLIP
