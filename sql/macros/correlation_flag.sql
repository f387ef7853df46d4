-- reads: nothing
-- makes: macro correlation_flag(rho): 'diversifying' below the lower threshold, 'high' above the
--        upper one, else NULL (also NULL when rho is NULL); the report's thresholds for a pair of
--        strategies. The two numbers are written only here: sqlorch.backtest.correlation reads
--        them from this file (DIVERSIFYING_BELOW, HIGH_ABOVE)
CREATE OR REPLACE MACRO correlation_flag(rho) AS
    CASE WHEN rho < 0.3 THEN 'diversifying'
         WHEN rho > 0.8 THEN 'high' END;
