-- reads: logged_events, signals, conflicts, runs
-- makes: events, a run's audit trail: the same records, in the same order (seq), as
--        logs/backtest/<run_id>.jsonl, payload being the JSON line. Signal and conflict events
--        are built from the signals and conflicts they record, exactly as the JSONL writes them;
--        a signal with order options (SPEC §8) carries them as "orders".
CREATE OR REPLACE VIEW events AS
WITH names AS (
    SELECT run_id, prefix || '.strategy_signal' AS signal_event, prefix || '.conflict_detected' AS conflict_event
    FROM (SELECT run_id, CASE kind WHEN 'backtest' THEN 'backtest' ELSE 'orchestrator' END AS prefix FROM runs)
)
SELECT run_id, seq, ts, event, strategy_id, bar_index, payload
FROM logged_events
UNION ALL
SELECT s.run_id, s.event_seq, s.logged_at, n.signal_event, s.strategy_id, s.bar_index,
       event_head(n.signal_event, s.logged_at, s.run_id)
       || '"strategy_id":' || to_json(s.strategy_id) || ',"signal_type":' || to_json(s.side)
       || ',"symbol":' || to_json(s.symbol) || ',"bar_date":"' || iso_text(s.ts)
       || '","capital_available":' || s.capital_available::VARCHAR
       || coalesce(',"orders":' || s.orders, '') || '}'
FROM signals s
JOIN names n USING (run_id)
WHERE s.event_seq IS NOT NULL
UNION ALL
SELECT c.run_id, c.event_seq, c.logged_at, n.conflict_event, NULL, c.bar_index,
       event_head(n.conflict_event, c.logged_at, c.run_id)
       || '"symbol":' || to_json(c.symbol) || ',"strategies":' || to_json(c.strategies)
       || ',"orders":' || c.orders || ',"resolution_mode":' || to_json(c.mode)
       || ',"outcome":' || to_json(c.outcome) || ',"bar_date":"' || iso_text(c.ts) || '"}'
FROM conflicts c
JOIN names n USING (run_id)
WHERE c.event_seq IS NOT NULL;
