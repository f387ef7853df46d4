-- reads: grid_runs
-- makes: a running grid search completed, finished now, with how many combinations completed
--        and failed, the best parameters and the duration (parameters: completed_count,
--        failed_count, best, duration_seconds, run_id)
UPDATE grid_runs
SET status = 'completed', completed_count = $completed_count, failed_count = $failed_count, best = $best,
    duration_seconds = $duration_seconds, finished_at = now()::TIMESTAMP
WHERE run_id = $run_id;
