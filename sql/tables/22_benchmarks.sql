-- reads: nothing (filled when a run with a benchmark is registered)
-- makes: benchmarks, the benchmark of a run (SPEC §10) on the run's clock: its last close at or
--        before every clock bar (NULL before its first bar), one symbol per run; runs without a
--        benchmark have no rows
CREATE TABLE IF NOT EXISTS benchmarks (
    run_id    VARCHAR,
    bar_index INTEGER,
    ts        TIMESTAMP,
    symbol    VARCHAR,
    close     DECIMAL(18, 6)
);
