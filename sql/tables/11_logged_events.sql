-- reads: nothing
-- makes: logged_events, the audit events stored as they were logged: every event but
--        strategy_signal, which the view events derives from the signals table (the table
--        events of earlier versions, renamed; their runs' signal events stay here)
CREATE TABLE IF NOT EXISTS logged_events (
    run_id      VARCHAR,
    seq         BIGINT,
    ts          TIMESTAMP,
    event       VARCHAR,
    strategy_id VARCHAR,
    bar_index   INTEGER,
    payload     VARCHAR             -- the JSON line
);
