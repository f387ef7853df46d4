-- reads: bars, clocks (of dataset $dataset_id)
-- makes: rows of marks for that dataset: every symbol's last close at every bar from its first.
--        A symbol with a bar at every clock bar from its first takes its closes as they are;
--        only symbols with gaps are carried forward by a window (three times the work).
INSERT INTO marks
WITH symbols AS (
    SELECT symbol, min(ts) AS first_ts, count(*) AS bars
    FROM bars
    WHERE dataset_id = $dataset_id
    GROUP BY symbol
), gapless AS (  -- as many bars as clock bars from its first on (one bar per symbol and time)
    SELECT s.symbol, s.bars = (SELECT count(*) FROM clocks WHERE dataset_id = $dataset_id) - c.bar_index AS gapless
    FROM symbols s
    JOIN clocks c ON c.dataset_id = $dataset_id AND c.ts = s.first_ts
)
SELECT c.dataset_id, b.symbol, c.bar_index, c.ts, b.close
FROM bars b
JOIN gapless g ON g.symbol = b.symbol AND g.gapless
JOIN clocks c ON c.dataset_id = b.dataset_id AND c.ts = b.ts
WHERE b.dataset_id = $dataset_id
UNION ALL
SELECT c.dataset_id, s.symbol, c.bar_index, c.ts,
       last_value(b.close IGNORE NULLS) OVER (
           PARTITION BY s.symbol ORDER BY c.bar_index ROWS UNBOUNDED PRECEDING)
FROM clocks c
JOIN symbols s ON c.ts >= s.first_ts
JOIN gapless g ON g.symbol = s.symbol AND NOT g.gapless
LEFT JOIN bars b ON b.dataset_id = c.dataset_id AND b.symbol = s.symbol AND b.ts = c.ts
WHERE c.dataset_id = $dataset_id;
