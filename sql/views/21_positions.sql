-- reads: position_changes, runs, marks
-- makes: positions, every open position of every sleeve at the close of every bar, at its mark
--        (the symbol's last close); cost_basis is signed (negative for shorts)
CREATE OR REPLACE VIEW positions AS
WITH spans AS (
    SELECT p.run_id, p.strategy_id, p.symbol, p.quantity, p.cost_basis, r.dataset_id,
           unnest(range(p.bar_index, coalesce(p.next_bar_index, r.bars_processed))) AS bar_index
    FROM position_changes p
    JOIN runs r USING (run_id)
    WHERE p.quantity <> 0
)
SELECT s.run_id, s.strategy_id, s.symbol, s.bar_index::INTEGER AS bar_index, m.ts,
       s.quantity, s.cost_basis, m.close AS mark,
       s.quantity::DECIMAL(38, 6) * m.close AS market_value
FROM spans s
JOIN marks m ON m.dataset_id = s.dataset_id AND m.symbol = s.symbol AND m.bar_index = s.bar_index;
