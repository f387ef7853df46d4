-- reads: runs, clocks
-- makes: run_clock, the bars each run stepped through (all of them unless the run failed)
CREATE OR REPLACE VIEW run_clock AS
SELECT r.run_id, c.bar_index, c.ts
FROM runs r
JOIN clocks c ON c.dataset_id = r.dataset_id AND c.bar_index < r.bars_processed;
