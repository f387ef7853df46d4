-- reads: grid_results, grid_parameters
-- makes: grid_sensitivity, how each metric of a grid run varies with each parameter: per strategy,
--        parameter, value and metric, over the completed combinations with that value (and any
--        values of the other parameters) where the metric is finite: how many, mean, min, max and
--        the standard deviation. A parameter matters when its values' means are far apart.
CREATE OR REPLACE VIEW grid_sensitivity AS
WITH long AS (
    UNPIVOT (
        SELECT run_id, strategy_id, combination, total_return, cagr, volatility, sharpe_ratio,
               sortino_ratio, max_drawdown, calmar_ratio, win_rate, profit_factor,
               trade_count::DOUBLE AS trade_count, exposure, alpha, beta, tracking_error, information_ratio
        FROM grid_results
        WHERE status = 'completed'
    )
    ON total_return, cagr, volatility, sharpe_ratio, sortino_ratio, max_drawdown, calmar_ratio,
       win_rate, profit_factor, trade_count, exposure, alpha, beta, tracking_error, information_ratio
    INTO NAME metric VALUE metric_value
)
SELECT p.run_id, p.strategy_id, p.parameter, p.position, p.value, p.number, l.metric,
       count(*) AS combinations,
       avg(l.metric_value) AS mean,
       min(l.metric_value) AS min,
       max(l.metric_value) AS max,
       stddev_samp(l.metric_value) AS stddev
FROM grid_parameters p
JOIN long l ON l.run_id = p.run_id AND l.strategy_id = p.strategy_id AND l.combination = p.combination
WHERE isfinite(l.metric_value)
GROUP BY p.run_id, p.strategy_id, p.parameter, p.position, p.value, p.number, l.metric;
