-- reads: grid_runs
-- makes: the studies `sqlorch trials` lists, most recently searched first: per study, its
--        searches (completed ones, and all), its completed trials (the completed combinations of
--        its completed searches) and when it was last searched
SELECT study,
       count(*) FILTER (WHERE status = 'completed') AS searches,
       coalesce(sum(completed_count) FILTER (WHERE status = 'completed'), 0) AS trials,
       count(*) FILTER (WHERE status <> 'completed') AS not_completed,
       strftime(max(started_at), '%Y-%m-%d %H:%M:%S') AS last_search
FROM grid_runs
WHERE study IS NOT NULL
GROUP BY study
ORDER BY last_search DESC, study;
