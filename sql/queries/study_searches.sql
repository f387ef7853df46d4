-- reads: grid_runs
-- makes: the searches of one study, oldest first, as `sqlorch trials STUDY` lists them: status,
--        strategies and combinations, completed trials, the study's trials N when it finished,
--        the best trial's deflated and probabilistic Sharpe ratios, the PBO (parameters: study)
SELECT run_id, status, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started_at, metric, strategy_count AS strategies, combination_count AS combinations,
       completed_count AS completed, trials, round(deflated_sharpe_ratio, 4) AS deflated_sharpe_ratio,
       round(probabilistic_sharpe_ratio, 4) AS probabilistic_sharpe_ratio, round(pbo, 4) AS pbo
FROM grid_runs
WHERE study = ?
ORDER BY started_at, run_id;
