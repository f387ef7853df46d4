-- reads: bars (of dataset $dataset_id)
-- makes: rows of clocks for that dataset: its distinct timestamps numbered from 0
INSERT INTO clocks
SELECT $dataset_id, (row_number() OVER (ORDER BY ts) - 1)::INTEGER, ts
FROM (SELECT DISTINCT ts FROM bars WHERE dataset_id = $dataset_id);
