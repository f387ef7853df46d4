-- reads: series_metrics (of run $run_id)
-- makes: the rows of metrics for run $run_id
INSERT INTO metrics BY NAME
SELECT * FROM series_metrics WHERE run_id = $run_id;
