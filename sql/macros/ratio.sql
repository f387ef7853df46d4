-- reads: nothing
-- makes: macro ratio(a, b): a / b, with a / 0 = +inf or -inf by the sign of a, and 0 / 0 = NULL
--        (numpy's division, which empyrical's metrics rely on); NULL when a or b is NULL
CREATE OR REPLACE MACRO ratio(a, b) AS
    CASE WHEN b <> 0 THEN a / b
         WHEN b = 0 AND a > 0 THEN 'inf'::DOUBLE
         WHEN b = 0 AND a < 0 THEN '-inf'::DOUBLE END;
