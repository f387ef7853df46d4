-- reads: position_changes, runs, marks
-- makes: positions, every open position of every sleeve at the close of every bar, at its mark
--        (the symbol's last close); cost_basis is signed (negative for shorts). A position finds
--        its marks by one integer key (its dataset and symbol numbered in this query, shifted,
--        plus the bar) rather than by dataset, symbol and bar: a third less work on large runs.
CREATE OR REPLACE VIEW positions AS
WITH open AS (
    SELECT p.run_id, p.strategy_id, p.symbol, p.quantity, p.cost_basis, p.bar_index, r.dataset_id,
           coalesce(p.next_bar_index, r.bars_processed) AS until
    FROM position_changes p
    JOIN runs r USING (run_id)
    WHERE p.quantity <> 0
), series AS (
    SELECT dataset_id, symbol, row_number() OVER (ORDER BY dataset_id, symbol) << 32 AS key
    FROM (SELECT DISTINCT dataset_id, symbol FROM open)
), spans AS (
    SELECT o.run_id, o.strategy_id, o.symbol, o.quantity, o.cost_basis, s.key,
           unnest(range(o.bar_index, o.until)) AS bar_index
    FROM open o
    JOIN series s USING (dataset_id, symbol)
), series_marks AS (
    SELECT s.key + m.bar_index AS key, m.ts, m.close
    FROM marks m
    JOIN series s USING (dataset_id, symbol)
)
SELECT p.run_id, p.strategy_id, p.symbol, p.bar_index::INTEGER AS bar_index, m.ts,
       p.quantity, p.cost_basis, m.close AS mark,
       p.quantity::DECIMAL(38, 6) * m.close AS market_value
FROM spans p
JOIN series_marks m ON m.key = p.key + p.bar_index;
