-- reads: allocations
-- makes: one sleeve's capital over a run: ts, allocated_capital, used_capital,
--        available_capital (DECIMAL(38, 6)), one row per clock bar (parameters: run_id, strategy_id)
SELECT ts, allocated_capital::DECIMAL(38, 6) AS allocated_capital,
       used_capital::DECIMAL(38, 6) AS used_capital,
       available_capital::DECIMAL(38, 6) AS available_capital
FROM allocations
WHERE run_id = ? AND strategy_id = ?
ORDER BY bar_index;
