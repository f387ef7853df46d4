-- reads: grid_runs, grid_results
-- makes: a search's study's completed trials N (every completed combination of the study's
--        completed searches and of the search itself, run_id) and V, the sample variance of their
--        per-bar Sharpe ratios (sharpe_ratio / sqrt(periods_per_year): not annualised; those
--        undefined or infinite left out), for the deflated Sharpe ratio (parameters: run_id, study;
--        a NULL study: the search alone)
SELECT count(*) AS trials,
       var_samp(r.sharpe_ratio / sqrt(g.periods_per_year)) FILTER (WHERE isfinite(r.sharpe_ratio)) AS variance
FROM grid_results AS r
JOIN grid_runs AS g USING (run_id)
WHERE r.status = 'completed'
  AND (g.run_id = $run_id OR (g.study = $study AND g.status = 'completed'));
