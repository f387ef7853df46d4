-- reads: equity
-- makes: strategy_equity, each sleeve's cash, market value and equity at the close of every bar
CREATE OR REPLACE VIEW strategy_equity AS
SELECT run_id, strategy_id, bar_index, ts, cash, market_value, equity
FROM equity;
