-- reads: equity, portfolio_books, run_strategies, runs, trades, benchmarks (of run $run_id)
-- makes: the rows of metrics for run $run_id: the performance of each strategy and of
--        'portfolio', following empyrical: per-bar returns r_t = E_t / E_(t-1) - 1 from the
--        second bar on, ppy = runs.periods_per_year, the risk-free return per bar
--        rf = (1 + runs.risk_free_rate)^(1 / ppy) - 1 (Sharpe, Sortino, alpha); NULL where
--        undefined (no trades, flat curve). Returns and drawdowns are walked in one pass over the
--        run's curves. Against the benchmark's returns b_t (bars where both r_t and b_t exist;
--        NULL without a benchmark): beta = cov(r - rf, b - rf) / var(b - rf) (population
--        moments; NULL where var < 1e-30, as empyrical),
--        alpha = (1 + mean(r - rf - beta (b - rf)))^ppy - 1, tracking_error = std(r - b) sqrt(ppy),
--        information_ratio = mean(r - b) / std(r - b) sqrt(ppy).
INSERT INTO metrics BY NAME
WITH run AS (
    SELECT periods_per_year AS ppy,
           power(1 + coalesce(risk_free_rate, 0), 1 / periods_per_year::DOUBLE) - 1 AS rf
    FROM runs
    WHERE run_id = $run_id
), bench AS (
    SELECT bar_index, ratio(close::DOUBLE, lag(close::DOUBLE) OVER (ORDER BY bar_index)) - 1 AS bench_ret
    FROM benchmarks
    WHERE run_id = $run_id
), curves AS (
    SELECT strategy_id AS series, bar_index, equity::DOUBLE AS equity, held
    FROM equity
    WHERE run_id = $run_id
    UNION ALL
    SELECT 'portfolio', bar_index, equity::DOUBLE, NULL
    FROM portfolio_books
    WHERE run_id = $run_id
), walk AS (
    SELECT series, bar_index, equity,
           ratio(equity, lag(equity) OVER (PARTITION BY series ORDER BY bar_index)) - 1 AS ret,
           ratio(equity, max(equity) OVER (PARTITION BY series ORDER BY bar_index
                                           ROWS UNBOUNDED PRECEDING)) - 1 AS drawdown
    FROM curves
), curve AS (
    SELECT series,
           arg_max(equity, bar_index) AS last_equity,
           arg_min(equity, bar_index) AS first_equity,
           count(*) AS bar_count,
           count(ret) AS n, avg(ret) AS mean, stddev_samp(ret) AS sd,
           -- least() ignores NULL: a bar without a return counts as no loss
           sqrt(avg(least(ret - (SELECT rf FROM run), 0) ^ 2) FILTER (WHERE bar_index > 0)) AS downside,
           min(drawdown) AS max_drawdown
    FROM walk
    GROUP BY series
), paired AS (  -- the bars where the series and the benchmark both have a return
    SELECT w.series, w.ret - (SELECT rf FROM run) AS excess, b.bench_ret - (SELECT rf FROM run) AS bench_excess,
           w.ret - b.bench_ret AS active
    FROM walk w
    JOIN bench b USING (bar_index)
    WHERE w.ret IS NOT NULL AND b.bench_ret IS NOT NULL
), versus AS (
    SELECT series,
           CASE WHEN var_pop(bench_excess) >= 1e-30
                THEN covar_pop(excess, bench_excess) / var_pop(bench_excess) END AS beta,
           avg(excess) AS mean_excess, avg(bench_excess) AS mean_bench_excess,
           avg(active) AS mean_active, stddev_samp(active) AS sd_active
    FROM paired
    GROUP BY series
), capital AS (
    SELECT strategy_id AS series, initial_capital::DOUBLE AS initial_capital
    FROM run_strategies
    WHERE run_id = $run_id
    UNION ALL
    SELECT 'portfolio', initial_capital::DOUBLE
    FROM runs
    WHERE run_id = $run_id
), trade_rows AS (  -- every trade counts for its strategy and for the portfolio
    SELECT unnest([strategy_id, 'portfolio']) AS series, status, pnl FROM trades WHERE run_id = $run_id
), trade_stats AS (
    SELECT series,
           count(*) AS trade_count,
           count(*) FILTER (WHERE status = 'closed') AS closed,
           count(*) FILTER (WHERE status = 'closed' AND pnl > 0) AS wins,
           coalesce(sum(pnl) FILTER (WHERE status = 'closed' AND pnl > 0), 0)::DOUBLE AS gross_profit,
           coalesce(-sum(pnl) FILTER (WHERE status = 'closed' AND pnl < 0), 0)::DOUBLE AS gross_loss
    FROM trade_rows
    GROUP BY series
), exposure AS (  -- bars with an open position: in the sleeve, or in any sleeve
    SELECT strategy_id AS series, count(*) FILTER (WHERE held > 0) AS bars_held
    FROM equity
    WHERE run_id = $run_id
    GROUP BY strategy_id
    UNION ALL
    SELECT 'portfolio', count(DISTINCT bar_index)
    FROM equity
    WHERE run_id = $run_id AND held > 0
), joined AS (
    SELECT c.series, r.ppy,
           c.last_equity / k.initial_capital - 1 AS total_return,
           CASE WHEN c.n > 0 AND c.first_equity > 0 AND c.last_equity >= 0
                THEN power(c.last_equity / c.first_equity, r.ppy / c.n) - 1 END AS cagr,
           c.sd * sqrt(r.ppy) AS volatility,
           ratio(c.mean - r.rf, c.sd) * sqrt(r.ppy) AS sharpe_ratio,
           ratio((c.mean - r.rf) * r.ppy, c.downside * sqrt(r.ppy)) AS sortino_ratio,
           c.max_drawdown,
           ratio(t.wins, t.closed) AS win_rate,
           CASE WHEN t.closed > 0 THEN ratio(t.gross_profit, t.gross_loss) END AS profit_factor,
           coalesce(t.trade_count, 0) AS trade_count,
           coalesce(x.bars_held, 0) / c.bar_count AS exposure,
           c.last_equity AS final_equity,
           power(1 + v.mean_excess - v.beta * v.mean_bench_excess, r.ppy) - 1 AS alpha, v.beta,
           v.sd_active * sqrt(r.ppy) AS tracking_error,
           ratio(v.mean_active, v.sd_active) * sqrt(r.ppy) AS information_ratio
    FROM curve c
    JOIN capital k USING (series)
    CROSS JOIN run r
    LEFT JOIN trade_stats t USING (series)
    LEFT JOIN exposure x USING (series)
    LEFT JOIN versus v USING (series)
)
SELECT $run_id AS run_id, series, total_return, cagr, volatility, sharpe_ratio, sortino_ratio,
       max_drawdown, CASE WHEN max_drawdown < 0 THEN cagr / abs(max_drawdown) END AS calmar_ratio,
       win_rate, profit_factor, trade_count, exposure, final_equity,
       alpha, beta, tracking_error, information_ratio
FROM joined;
