-- reads: fills
-- makes: position_changes, a sleeve's position and signed cost basis in a symbol after the fills
--        of one bar, valid from bar_index until next_bar_index (exclusive; NULL = to the end)
CREATE OR REPLACE VIEW position_changes AS
WITH per_bar AS (
    SELECT run_id, strategy_id, symbol, bar_index,
           sum(quantity) AS quantity_change,
           sum(notional(quantity, price) + realized_pnl) AS basis_change
    FROM fills
    GROUP BY run_id, strategy_id, symbol, bar_index
)
SELECT run_id, strategy_id, symbol, bar_index,
       sum(quantity_change) OVER w AS quantity,
       sum(basis_change) OVER w AS cost_basis,
       lead(bar_index) OVER (PARTITION BY run_id, strategy_id, symbol ORDER BY bar_index) AS next_bar_index
FROM per_bar
WINDOW w AS (PARTITION BY run_id, strategy_id, symbol ORDER BY bar_index ROWS UNBOUNDED PRECEDING);
