-- reads: equity
-- makes: sleeve_cash, each sleeve's cash at the close of every bar: its starting capital, less
--        what its fills cost (price x quantity + commission), plus rebalancing transfers
CREATE OR REPLACE VIEW sleeve_cash AS
SELECT run_id, strategy_id, bar_index, ts, cash
FROM equity;
