-- reads: runs
-- makes: the run_id and pid of every run still `running` that was started on one machine
--        (parameters: hostname)
SELECT run_id, pid
FROM runs
WHERE status = 'running' AND hostname = ?;
