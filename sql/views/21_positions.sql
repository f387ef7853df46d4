-- reads: position_changes, runs, marks (through the macro held_at_marks)
-- makes: positions, every open position of every sleeve at the close of every bar, at its mark
--        (the symbol's last close); cost_basis is signed (negative for shorts)
CREATE OR REPLACE VIEW positions AS
WITH open AS (
    SELECT p.run_id, p.strategy_id, p.symbol, p.quantity, p.cost_basis, p.bar_index, r.dataset_id,
           coalesce(p.next_bar_index, r.bars_processed) AS until
    FROM position_changes p
    JOIN runs r USING (run_id)
    WHERE p.quantity <> 0
)
SELECT * FROM held_at_marks(open);
