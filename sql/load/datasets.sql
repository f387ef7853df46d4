-- reads: bars (of dataset $dataset_id)
-- makes: the row of datasets for that dataset: created now, from $source, with its symbol and
--        bar counts and first and last bar
INSERT INTO datasets
SELECT $dataset_id, now()::TIMESTAMP, $source, count(DISTINCT symbol), count(*), min(ts), max(ts)
FROM bars
WHERE dataset_id = $dataset_id;
