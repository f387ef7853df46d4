-- reads: _sqlorch_bars (the validated bars, registered from Arrow by warehouse.register_dataset)
-- makes: rows of bars for dataset $dataset_id
INSERT INTO bars
SELECT $dataset_id, symbol, ts, open, high, low, close, volume
FROM _sqlorch_bars;
