-- reads: strategy_equity, run_strategies
-- makes: sleeve_shares, each sleeve's share of the sleeves' total equity at every bar next to
--        its target share (weight / sum of weights), and the drift between them
CREATE OR REPLACE VIEW sleeve_shares AS
WITH shared AS (
    SELECT e.run_id, e.strategy_id, e.bar_index, e.ts, e.equity,
           e.equity::DOUBLE / NULLIF(sum(e.equity) OVER (PARTITION BY e.run_id, e.bar_index), 0)::DOUBLE AS share,
           s.weight::DOUBLE / sum(s.weight) OVER (PARTITION BY e.run_id, e.bar_index)::DOUBLE AS target_share
    FROM strategy_equity e
    JOIN run_strategies s ON s.run_id = e.run_id AND s.strategy_id = e.strategy_id
)
SELECT *, share - target_share AS drift
FROM shared;
