-- reads: nothing
-- makes: view {view} dropped (a view of an older version that became a table); {view} is filled
--        in as a quoted identifier (a statement cannot bind the object it names)
DROP VIEW {view};
