"""The audit trail (sqlorch/engine/events.py, SPEC §4): compact JSONL lines, the same records in the
`events` table, event prefixes and the fields of each event."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlorch import BacktestEngine, Signal, StrategyError
from sqlorch.engine.events import EventLog, encode, quote

# ------------------------------------------------------------------------------ encoding


def test_encode_is_compact():
    line = encode({"event": "x.y", "a": 1, "b": [1, 2], "c": {"d": "x y", "e": None}, "f": True})
    assert line == '{"event":"x.y","a":1,"b":[1,2],"c":{"d":"x y","e":null},"f":true}'


def test_encode_decimals_datetimes_and_numpy():
    assert encode({"v": D("1.25")}) == '{"v":1.25}'
    assert encode({"v": D("-100000")}) == '{"v":-100000.0}'
    assert encode({"v": dt.datetime(2024, 1, 2, 3, 4, 5)}) == '{"v":"2024-01-02T03:04:05"}'
    assert encode({"v": dt.date(2024, 1, 2)}) == '{"v":"2024-01-02"}'
    assert encode({"v": [np.int64(3), np.float64(0.5), np.bool_(True)]}) == '{"v":[3,0.5,true]}'
    with pytest.raises(TypeError, match="cannot write object to the audit log"):
        encode({"v": object()})


def test_event_log_rows_and_file(tmp_path):
    path = tmp_path / "deep" / "dir" / "run.jsonl"
    log = EventLog("r-1", "orchestrator", path)
    log.emit("backtest_started", flush=True, strategy_count=2)
    assert path.read_text().count("\n") == 1  # flushed before close
    log.emit("strategy_signal", bar_index=3, strategy_id="trend", symbol="A")
    log.emit("strategy_signal", bar_index=4, strategy_id="trend", symbol="B")
    log.close()
    log.close()  # closing twice is harmless
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert list(first) == ["event", "ts", "run_id", "strategy_count"]
    assert first["event"] == "orchestrator.backtest_started" and first["run_id"] == "r-1"
    dt.datetime.fromisoformat(first["ts"])
    assert [row[2] for row in log.rows] == ["orchestrator.backtest_started"] + ["orchestrator.strategy_signal"] * 2
    seq, ts, event, strategy_id, bar_index, line = log.rows[1]
    assert (seq, event, strategy_id, bar_index, line) == (1, "orchestrator.strategy_signal", "trend", 3, lines[1])
    # the wall time in microseconds since the epoch, the line's ts to the millisecond
    assert isinstance(ts, int)
    when = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ts)
    assert when.isoformat(timespec="milliseconds") == json.loads(lines[1])["ts"]
    assert "bar_index" not in json.loads(lines[1])


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_quote_writes_strings_as_duckdb_to_json_does(text):
    """Signal events are written by Python (JSONL) and rebuilt by SQL (view events): the
    strategy ids and symbols in them must be quoted alike, character for character."""
    with duckdb.connect() as con:
        ((expected,),) = con.execute("SELECT to_json(?::VARCHAR)::VARCHAR", [text]).fetchall()
    assert quote(text) == expected and json.loads(quote(text)) == text


def test_engine_events_keep_their_numbers_and_the_file_is_rewritten_in_order(tmp_path):
    """Events the engine numbered (`add`) take their seq and reach the file only when it is
    rewritten from the warehouse, every event in order; Python's own go to the file at once."""
    path = tmp_path / "run.jsonl"
    log = EventLog("r-3", "backtest", path)
    log.emit("backtest_started")
    now, stamp = log.now()
    log.seq = 3  # the engine numbered 1 and 2
    log.add("capital_limit_hit", 2, now, stamp, bar_index=5, strategy_id="trend", used_capital=1.5)
    log.emit("backtest_completed", flush=True)
    assert [row[0] for row in log.rows] == [0, 2, 3] and log.seq == 4
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == [
        "backtest.backtest_started", "backtest.backtest_completed"]
    log.rewrite(["a", "b", "c"])
    log.close()
    assert path.read_text() == "a\nb\nc\n"
    assert json.loads(log.rows[1][5]) == {"event": "backtest.capital_limit_hit", "ts": stamp, "run_id": "r-3",
                                          "strategy_id": "trend", "used_capital": 1.5}


def test_event_log_without_a_file():
    log = EventLog("r-2", "backtest")
    log.emit("backtest_completed", flush=True, final_equity=D("1.5"))
    log.close()
    assert [row[2] for row in log.rows] == ["backtest.backtest_completed"]
    assert json.loads(log.rows[0][5])["final_equity"] == 1.5


# ------------------------------------------------------------------------------ after real runs


def _compact(line):
    # (lower case: signal lines escape control characters with upper-case hex, as DuckDB does)
    return json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False).lower() == line.lower()


def _check_lines(run, prefix):
    lines = run.jsonl()
    assert lines, "no JSONL written"
    # the events table holds exactly the same lines, in the same order
    assert [row[0] for row in run.rows("SELECT payload FROM events WHERE run_id = ? ORDER BY seq",
                                       [run.run_id])] == lines
    events = [json.loads(line) for line in lines]
    for line, event in zip(lines, events):
        assert _compact(line), line
        assert list(event)[:3] == ["event", "ts", "run_id"]
        assert event["run_id"] == run.run_id
        assert event["event"].startswith(prefix + ".")
        dt.datetime.fromisoformat(event["ts"])
    table = run.rows("SELECT event, strategy_id FROM events WHERE run_id = ? ORDER BY seq", [run.run_id])
    assert [e for e, _ in table] == [e["event"] for e in events]
    assert [s for _, s in table] == [e.get("strategy_id") for e in events]
    return events


def test_orchestrator_events(make_bars, script, run_orchestrator, day):
    bars = make_bars({"A": [(0, 10, 10), (1, 12.5, 12.5), (2, 12.5, 12.5)],
                      "B": [(0, 20, 20), (1, 20, 20), (2, 20, 20)]})
    first = script({0: [Signal.buy("A", 1.0)]}, name="first")   # 500: wants 50, opens at 12.5: 40
    second = script({0: [Signal.buy("B", 1.0)]}, name="second")  # 300: 15 at 20
    run = run_orchestrator([(first, D("0.5")), (second, D("0.3"))], bars, initial_capital=D(1000))
    events = _check_lines(run, "orchestrator")
    names = [e["event"].split(".", 1)[1] for e in events]
    assert names == ["backtest_started", "strategy_signal", "strategy_signal", "capital_limit_hit",
                     "backtest_completed"]
    started, sig_a, sig_b, hit, completed = events
    assert {k: v for k, v in started.items() if k not in ("event", "ts", "run_id")} == {
        "strategy_count": 2, "total_capital": 1000.0, "weights": {"first": 0.5, "second": 0.3},
        "symbols": ["A", "B"], "date_range": [day(0).isoformat(), day(2).isoformat()]}
    assert {k: sig_a[k] for k in ("strategy_id", "signal_type", "symbol", "bar_date", "capital_available")} == {
        "strategy_id": "first", "signal_type": "buy", "symbol": "A", "bar_date": day(0).isoformat(),
        "capital_available": 500.0}
    assert (sig_b["strategy_id"], sig_b["symbol"], sig_b["capital_available"]) == ("second", "B", 300.0)
    assert (hit["strategy_id"], hit["used_capital"], hit["allocation_limit"]) == ("first", 500.0, 500.0)
    assert hit["rejected_signal"]["requested"] == 50.0 and hit["rejected_signal"]["filled"] == 40.0
    # 40 x 12.5 + 15 x 20 + 200 unallocated
    assert {k: completed[k] for k in ("trade_count", "final_equity", "error_count")} == {
        "trade_count": 2, "final_equity": 1000.0, "error_count": 0}
    assert isinstance(completed["duration_seconds"], float) and completed["duration_seconds"] >= 0
    bar_indexes = run.rows("SELECT bar_index FROM events WHERE run_id = ? ORDER BY seq", [run.run_id])
    assert [b for (b,) in bar_indexes] == [None, 0, 0, 1, None]


def test_backtest_engine_events_use_the_backtest_prefix(make_bars, script, run_engine, day):
    bars = make_bars({"A": [(0, 10), (1, 11), (2, 12)]})
    run = run_engine(script({0: [Signal.buy("A", 0.5)], 1: [Signal.exit("A")]}), bars, initial_capital=D(1000))
    events = _check_lines(run, "backtest")
    assert [e["event"] for e in events] == ["backtest.backtest_started", "backtest.strategy_signal",
                                            "backtest.strategy_signal", "backtest.backtest_completed"]
    assert events[0]["weights"] == {"script": 1.0} and events[0]["strategy_count"] == 1
    assert events[2]["signal_type"] == "exit" and events[2]["bar_date"] == day(1).isoformat()
    # 50 bought at 11, sold at 12: 1050
    assert events[-1]["final_equity"] == 1050.0 and events[-1]["trade_count"] == 1


def test_failed_run_events(make_bars, script, file_config, open_run, day):
    def boom(ctx):
        raise ValueError("bad input at this bar")

    config = file_config(initial_capital=D(1000))
    with pytest.raises(StrategyError) as info:
        BacktestEngine(script({0: [Signal.buy("A", 0.5)], 2: boom}, name="fragile"), config).run(
            make_bars({"A": [(d, 10) for d in range(4)]}))
    run_id = info.value.run_id
    run = open_run(config.warehouse, run_id, log=Path(config.log_dir) / f"{run_id}.jsonl")
    events = _check_lines(run, "backtest")
    assert [e["event"] for e in events] == ["backtest.backtest_started", "backtest.strategy_signal",
                                            "backtest.backtest_failed"]
    failed = events[-1]
    assert {k: failed[k] for k in ("error_type", "error_message", "strategy_id", "bar_date")} == {
        "error_type": "ValueError", "error_message": "bad input at this bar", "strategy_id": "fragile",
        "bar_date": day(2).isoformat()}


def test_signals_before_an_invalid_one_are_logged_like_the_signals_table(make_bars, script, file_config, open_run):
    config = file_config(initial_capital=D(1000))
    with pytest.raises(StrategyError, match="must return Signal objects"):
        BacktestEngine(script({1: [Signal.buy("A", 0.5), "not a signal"]}, name="sloppy"), config).run(
            make_bars({"A": [(d, 10) for d in range(3)]}))
    run_id = open_run(config.warehouse, "").rows(
        "SELECT run_id FROM runs WHERE status = 'failed' ORDER BY started_at DESC LIMIT 1", [])[0][0]
    run = open_run(config.warehouse, run_id, log=Path(config.log_dir) / f"{run_id}.jsonl")
    events = _check_lines(run, "backtest")
    assert [e["event"] for e in events] == ["backtest.backtest_started", "backtest.strategy_signal",
                                            "backtest.backtest_failed"]
    assert run.rows("SELECT symbol, side FROM signals WHERE run_id = ?", [run_id]) == [("A", "buy")]
    assert events[1]["symbol"] == "A" and events[1]["capital_available"] == 1000.0


def test_signal_and_conflict_events_of_unusual_names_and_amounts_match_the_jsonl(make_bars, script,
                                                                                 run_orchestrator):
    """The view events rebuilds each signal's and conflict's line from the signals and conflicts
    tables: names with quotes, backslashes, control and non-ASCII characters, and amounts with
    many digits come out as the JSONL wrote them."""
    odd = 'Ä"B\\C\x1f€'
    bars = make_bars({odd: [(0, 10), (1, 11), (2, 12)], "B": [(0, 3), (1, 3.3), (2, 3.1)]})
    first = script({0: [Signal.buy(odd, 0.37)], 1: [Signal.exit(odd)]}, name='trend "ü"\x7f')
    second = script({0: [Signal.buy("B", 0.5)], 1: [Signal.buy(odd, 0.2), Signal.exit("B")]}, name="second\x01")
    run = run_orchestrator([(first, D("0.45")), (second, D("0.55"))], bars, initial_capital=D("1000.123457"))
    events = _check_lines(run, "orchestrator")
    signals = [e for e in events if e["event"] == "orchestrator.strategy_signal"]
    assert [(e["strategy_id"], e["symbol"], e["signal_type"]) for e in signals] == [
        ('trend "ü"\x7f', odd, "buy"), ("second\x01", "B", "buy"), ('trend "ü"\x7f', odd, "exit"),
        ("second\x01", odd, "buy"), ("second\x01", "B", "exit")]
    assert signals[0]["capital_available"] == 450.055555
    (conflict,) = [e for e in events if e["event"] == "orchestrator.conflict_detected"]  # both trade odd at bar 2
    assert conflict["symbol"] == odd and conflict["strategies"] == ['trend "ü"\x7f', "second\x01"]
    assert [(o["strategy_id"], o["quantity"] > 0) for o in conflict["orders"]] == [
        ('trend "ü"\x7f', False), ("second\x01", True)]
