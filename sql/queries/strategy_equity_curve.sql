-- reads: strategy_equity
-- makes: one sleeve's equity curve in a run: ts, cash, equity (DECIMAL(38, 6)), one row per
--        clock bar (parameters: run_id, strategy_id)
SELECT ts, cash::DECIMAL(38, 6) AS cash, equity::DECIMAL(38, 6) AS equity
FROM strategy_equity
WHERE run_id = ? AND strategy_id = ?
ORDER BY bar_index;
