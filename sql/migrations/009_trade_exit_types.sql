-- reads: trades
-- makes: trades.exit_type (how each round trip ended), for warehouses created before it existed.
--        Their trades are deleted here and derived again by load/trades.sql (install_schema
--        materializes every run with fills but no trades), so earlier runs get exit types too,
--        from the one derivation: trades holds nothing that fills and decisions do not
ALTER TABLE trades ADD COLUMN IF NOT EXISTS exit_type VARCHAR;
DELETE FROM trades WHERE exit_type IS NULL;
