-- reads: runs
-- makes: the dataset of a running run, once its bars are stored (parameters: dataset_id, run_id)
UPDATE runs SET dataset_id = ? WHERE run_id = ?;
