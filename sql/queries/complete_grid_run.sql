-- reads: grid_runs
-- makes: a running grid search completed, finished now, with how many combinations completed
--        and failed, the best parameters, the duration, the study's trials and the best trial's
--        deflated and probabilistic Sharpe ratios, and the PBO (parameters: completed_count,
--        failed_count, best, duration_seconds, trials, deflated_sharpe_ratio,
--        probabilistic_sharpe_ratio, pbo, run_id)
UPDATE grid_runs
SET status = 'completed', completed_count = $completed_count, failed_count = $failed_count, best = $best,
    duration_seconds = $duration_seconds, finished_at = now()::TIMESTAMP, trials = $trials,
    deflated_sharpe_ratio = $deflated_sharpe_ratio, probabilistic_sharpe_ratio = $probabilistic_sharpe_ratio,
    pbo = $pbo
WHERE run_id = $run_id;
