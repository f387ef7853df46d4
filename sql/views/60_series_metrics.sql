-- reads: equity_curves, returns, drawdowns, trades, equity, runs
-- makes: series_metrics, the performance of every series of every run (each strategy and
--        'portfolio'), following empyrical: per-bar returns, ppy = runs.periods_per_year.
--        NULL where undefined (no trades, flat curve). Computed once per run into the metrics
--        table (load/metrics.sql), which strategy_metrics and portfolio_metrics read.
CREATE OR REPLACE VIEW series_metrics AS
WITH curve AS (
    SELECT run_id, series,
           arg_max(equity, bar_index)::DOUBLE AS last_equity,
           arg_min(equity, bar_index)::DOUBLE AS first_equity,
           any_value(initial_capital)::DOUBLE AS initial_capital,
           count(*) AS bar_count
    FROM equity_curves
    GROUP BY run_id, series
), rets AS (
    SELECT run_id, series,
           count(ret) AS n, avg(ret) AS mean, stddev_samp(ret) AS sd,
           sqrt(avg(least(ret, 0) ^ 2)) AS downside
    FROM returns
    GROUP BY run_id, series
), dd AS (
    SELECT run_id, series, min(drawdown) AS max_drawdown
    FROM drawdowns
    GROUP BY run_id, series
), trade_rows AS (
    SELECT run_id, strategy_id AS series, status, pnl FROM trades
    UNION ALL
    SELECT run_id, 'portfolio', status, pnl FROM trades
), trade_stats AS (
    SELECT run_id, series,
           count(*) AS trade_count,
           count(*) FILTER (WHERE status = 'closed') AS closed,
           count(*) FILTER (WHERE status = 'closed' AND pnl > 0) AS wins,
           coalesce(sum(pnl) FILTER (WHERE status = 'closed' AND pnl > 0), 0)::DOUBLE AS gross_profit,
           coalesce(-sum(pnl) FILTER (WHERE status = 'closed' AND pnl < 0), 0)::DOUBLE AS gross_loss
    FROM trade_rows
    GROUP BY run_id, series
), exposure AS (
    SELECT run_id, strategy_id AS series, count(*) FILTER (WHERE held > 0) AS bars_held
    FROM equity GROUP BY run_id, strategy_id
    UNION ALL
    SELECT run_id, 'portfolio', count(DISTINCT bar_index) FILTER (WHERE held > 0)
    FROM equity GROUP BY run_id
), joined AS (
    SELECT c.run_id, c.series, r.periods_per_year AS ppy,
           c.last_equity / c.initial_capital - 1 AS total_return,
           CASE WHEN rets.n > 0 AND c.first_equity > 0 AND c.last_equity >= 0
                THEN power(c.last_equity / c.first_equity, r.periods_per_year / rets.n) - 1 END AS cagr,
           rets.sd * sqrt(r.periods_per_year) AS volatility,
           ratio(rets.mean, rets.sd) * sqrt(r.periods_per_year) AS sharpe_ratio,
           ratio(rets.mean * r.periods_per_year, rets.downside * sqrt(r.periods_per_year)) AS sortino_ratio,
           dd.max_drawdown,
           ratio(t.wins, t.closed) AS win_rate,
           CASE WHEN t.closed > 0 THEN ratio(t.gross_profit, t.gross_loss) END AS profit_factor,
           coalesce(t.trade_count, 0) AS trade_count,
           coalesce(x.bars_held, 0) / c.bar_count AS exposure,
           c.last_equity AS final_equity
    FROM curve c
    JOIN runs r ON r.run_id = c.run_id
    LEFT JOIN rets ON rets.run_id = c.run_id AND rets.series = c.series
    LEFT JOIN dd ON dd.run_id = c.run_id AND dd.series = c.series
    LEFT JOIN trade_stats t ON t.run_id = c.run_id AND t.series = c.series
    LEFT JOIN exposure x ON x.run_id = c.run_id AND x.series = c.series
)
SELECT run_id, series, total_return, cagr, volatility, sharpe_ratio, sortino_ratio, max_drawdown,
       CASE WHEN max_drawdown < 0 THEN cagr / abs(max_drawdown) END AS calmar_ratio,
       win_rate, profit_factor, trade_count, exposure, final_equity
FROM joined;
