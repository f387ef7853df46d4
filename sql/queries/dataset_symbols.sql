-- reads: bars
-- makes: the distinct symbols of a dataset, in order (parameters: dataset_id)
SELECT DISTINCT symbol
FROM bars
WHERE dataset_id = ?
ORDER BY symbol;
