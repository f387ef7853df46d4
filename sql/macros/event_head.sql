-- reads: nothing
-- makes: macro event_head(event, logged_at, run_id): the start of an audit event's JSON line, up
--        to its own fields, as EventLog writes it: {"event":...,"ts":... (milliseconds),"run_id":...,
CREATE OR REPLACE MACRO event_head(event, logged_at, run_id) AS
    '{"event":"' || event || '","ts":"' || strftime(logged_at, '%Y-%m-%dT%H:%M:%S.%g')
    || '","run_id":' || to_json(run_id) || ',';
