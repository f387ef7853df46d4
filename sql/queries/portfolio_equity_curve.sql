-- reads: portfolio_equity
-- makes: a run's portfolio equity curve: ts, cash (unallocated capital included), equity
--        (DECIMAL(38, 6)), one row per clock bar (parameters: run_id)
SELECT ts, cash::DECIMAL(38, 6) AS cash, equity::DECIMAL(38, 6) AS equity
FROM portfolio_equity
WHERE run_id = ?
ORDER BY bar_index;
