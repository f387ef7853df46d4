-- reads: logged_events, signals, runs
-- makes: events, a run's audit trail: the same records, in the same order (seq), as
--        logs/backtest/<run_id>.jsonl, payload being the JSON line. Signal events are built
--        from the signals they record, exactly as the JSONL writes them.
CREATE OR REPLACE VIEW events AS
SELECT run_id, seq, ts, event, strategy_id, bar_index, payload
FROM logged_events
UNION ALL
SELECT s.run_id, s.event_seq, s.logged_at, e.event, s.strategy_id, s.bar_index,
       '{"event":"' || e.event || '","ts":"' || strftime(s.logged_at, '%Y-%m-%dT%H:%M:%S.%g')
       || '","run_id":' || to_json(s.run_id) || ',"strategy_id":' || to_json(s.strategy_id)
       || ',"signal_type":' || to_json(s.side) || ',"symbol":' || to_json(s.symbol)
       || ',"bar_date":"' || strftime(s.ts, '%Y-%m-%dT%H:%M:%S')
       || CASE WHEN strftime(s.ts, '%f') <> '000000' THEN '.' || strftime(s.ts, '%f') ELSE '' END
       || '","capital_available":' || s.capital_available::VARCHAR || '}'
FROM signals s
JOIN (SELECT run_id, CASE kind WHEN 'backtest' THEN 'backtest' ELSE 'orchestrator' END || '.strategy_signal' AS event
      FROM runs) e USING (run_id)
WHERE s.event_seq IS NOT NULL;
