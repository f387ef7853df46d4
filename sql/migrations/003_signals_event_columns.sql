-- reads: signals
-- makes: signals.event_seq, logged_at and capital_available, from which the view events derives
--        each signal's strategy_signal event; for warehouses created before (their runs' signal
--        events stay stored in logged_events, and these columns NULL)
ALTER TABLE signals ADD COLUMN IF NOT EXISTS event_seq BIGINT;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS logged_at TIMESTAMP;
ALTER TABLE signals ADD COLUMN IF NOT EXISTS capital_available DOUBLE;
