-- reads: grid_runs
-- makes: grid_runs.kind ('grid' or 'combination'), for warehouses created before combination
--        searches existed (every search they hold is a grid search: 'grid')
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'grid';
