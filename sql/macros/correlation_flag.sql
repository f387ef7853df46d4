-- reads: nothing
-- makes: macro correlation_flag(rho): 'diversifying' below 0.3, 'high' above 0.8, else NULL
--        (also NULL when rho is NULL); the report's thresholds for a pair of strategies
CREATE OR REPLACE MACRO correlation_flag(rho) AS
    CASE WHEN rho < 0.3 THEN 'diversifying'
         WHEN rho > 0.8 THEN 'high' END;
