-- reads: nothing
-- makes: events, the audit trail (the same records as logs/backtest/<run_id>.jsonl)
CREATE TABLE IF NOT EXISTS events (
    run_id      VARCHAR,
    seq         BIGINT,
    ts          TIMESTAMP,
    event       VARCHAR,
    strategy_id VARCHAR,
    bar_index   INTEGER,
    payload     VARCHAR             -- the JSON line
);
