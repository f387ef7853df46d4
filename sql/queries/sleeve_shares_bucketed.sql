-- reads: sleeve_shares
-- makes: a run's sleeves' shares of the sleeves' equity next to their target shares, per
--        strategy and bucket of $step bars (the bucket's last bar): strategy_id, ts, share,
--        target_share (parameters: run_id, step)
SELECT strategy_id, max(ts) AS ts, arg_max(share, bar_index) AS share,
       arg_max(target_share, bar_index) AS target_share
FROM sleeve_shares
WHERE run_id = $run_id
GROUP BY strategy_id, bar_index // $step
ORDER BY strategy_id, ts;
