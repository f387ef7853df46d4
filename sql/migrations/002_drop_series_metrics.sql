-- reads: nothing
-- makes: nothing; drops the view series_metrics of earlier versions, whose work load/metrics.sql
--        now does once per run (read the metrics table instead)
DROP VIEW IF EXISTS series_metrics;
