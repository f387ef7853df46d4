-- reads: strategy_equity, run_strategies, allocation_targets
-- makes: sleeve_shares, each sleeve's share of the sleeves' total equity at every bar next to
--        its target share and the drift between them. The target share is the latest target
--        of the allocation policy at or before the bar (target / the sum of that date's targets,
--        from allocation_targets), or, before the first allocation and under `fixed`, its
--        configured weight / the sum of the weights
CREATE OR REPLACE VIEW sleeve_shares AS
WITH allocated AS (
    SELECT run_id, strategy_id, bar, target::DOUBLE / NULLIF(sum(target) OVER (PARTITION BY run_id, bar), 0)
               AS allocated_share
    FROM allocation_targets
), shared AS (
    SELECT e.run_id, e.strategy_id, e.bar_index, e.ts, e.equity,
           e.equity::DOUBLE / NULLIF(sum(e.equity) OVER (PARTITION BY e.run_id, e.bar_index), 0)::DOUBLE AS share,
           coalesce(a.allocated_share,
                    s.weight::DOUBLE / sum(s.weight) OVER (PARTITION BY e.run_id, e.bar_index)::DOUBLE) AS target_share
    FROM strategy_equity e
    JOIN run_strategies s ON s.run_id = e.run_id AND s.strategy_id = e.strategy_id
    ASOF LEFT JOIN allocated a
      ON a.run_id = e.run_id AND a.strategy_id = e.strategy_id AND a.bar <= e.bar_index
)
SELECT *, share - target_share AS drift
FROM shared;
