-- reads: bars, clocks (of dataset $dataset_id)
-- makes: rows of marks for that dataset: every symbol's last close at every bar from its first
INSERT INTO marks
SELECT c.dataset_id, f.symbol, c.bar_index, c.ts,
       last_value(b.close IGNORE NULLS) OVER (
           PARTITION BY f.symbol ORDER BY c.bar_index ROWS UNBOUNDED PRECEDING)
FROM clocks c
JOIN (SELECT symbol, min(ts) AS first_ts FROM bars WHERE dataset_id = $dataset_id GROUP BY symbol) f
  ON c.ts >= f.first_ts
LEFT JOIN bars b ON b.dataset_id = c.dataset_id AND b.symbol = f.symbol AND b.ts = c.ts
WHERE c.dataset_id = $dataset_id;
