-- reads: runs, run_strategies, portfolio_books, grid_runs, conflicts
-- makes: the capital columns (up to 1e12, SPEC §3) and the conflicts' sums over many sleeves
--        DECIMAL(38, 6), for warehouses created when they were DECIMAL(18, 6)
ALTER TABLE runs ALTER COLUMN initial_capital SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE runs ALTER COLUMN unallocated_capital SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE run_strategies ALTER COLUMN initial_capital SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE portfolio_books ALTER COLUMN unallocated_capital SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE grid_runs ALTER COLUMN initial_capital SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE conflicts ALTER COLUMN net_quantity SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE conflicts ALTER COLUMN crossed_quantity SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE conflicts ALTER COLUMN commission SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE conflicts ALTER COLUMN commission_standalone SET DATA TYPE DECIMAL(38, 6);
ALTER TABLE conflicts ALTER COLUMN commission_saved SET DATA TYPE DECIMAL(38, 6);
