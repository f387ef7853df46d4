-- reads: metrics
-- makes: portfolio_metrics, the performance of the whole portfolio of every run
CREATE OR REPLACE VIEW portfolio_metrics AS
SELECT m.* EXCLUDE (series)
FROM metrics m
WHERE m.series = 'portfolio';
