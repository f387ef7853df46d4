-- reads: nothing
-- makes: macro iso_text(ts): a TIMESTAMP as Python's datetime.isoformat() writes it
--        (YYYY-MM-DDTHH:MM:SS, then .ffffff only when there are microseconds)
CREATE OR REPLACE MACRO iso_text(ts) AS
    strftime(ts, '%Y-%m-%dT%H:%M:%S')
    || CASE WHEN strftime(ts, '%f') <> '000000' THEN '.' || strftime(ts, '%f') ELSE '' END;
