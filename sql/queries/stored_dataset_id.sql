-- reads: datasets
-- makes: the dataset_id of a dataset if the warehouse holds it, else no row (parameters: dataset_id)
SELECT dataset_id
FROM datasets
WHERE dataset_id = ?;
