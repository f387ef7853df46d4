-- reads: metrics, equity
-- makes: the metrics of each sleeve of a grid batch's scratch run: series (the strategy_id), the
--        metric columns of the metrics table in order, and final_equity, its equity at the last
--        bar (DECIMAL(38, 6)) (parameters: run_id)
SELECT m.series, m.* EXCLUDE (run_id, series, final_equity), e.final_equity
FROM metrics m
JOIN (SELECT strategy_id, arg_max(equity, bar_index)::DECIMAL(38, 6) AS final_equity
      FROM equity
      WHERE run_id = $run_id
      GROUP BY strategy_id) e ON e.strategy_id = m.series
WHERE m.run_id = $run_id;
