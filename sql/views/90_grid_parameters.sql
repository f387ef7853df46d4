-- reads: grid_results
-- makes: grid_parameters, one row per combination of a grid run and parameter: the parameter's
--        name and position in the grid, its value as text, and as a number when it is one
CREATE OR REPLACE VIEW grid_parameters AS
WITH listed AS (
    SELECT run_id, strategy_id, combination, params,
           unnest(json_keys(params)) AS parameter,
           unnest(generate_series(1, len(json_keys(params)))) AS position
    FROM grid_results
)
SELECT run_id, strategy_id, combination, parameter, position::INTEGER AS position,
       params ->> parameter AS value,
       TRY_CAST(params -> parameter AS DOUBLE) AS number
FROM listed;
