"""The side-by-side bench's verdicts (bench/sbs_targets.py): parsed, compared, judged."""

from __future__ import annotations

import pytest

from bench import sbs_targets as t


def run(target, scenario, conns, ai_ms, rps, *, p50=10.0, p99=20.0, phase="cell", errors=0):
    return t.Run(target, scenario, conns, ai_ms, int(rps * 10), rps, p50, p99, errors, 0, phase)


def test_wrk_result_line_is_parsed():
    parsed = t.parse_result(
        "Running 10s test\nRESULT,1234,123.4,5.10,20.50,2,1\n",
        target="gateway",
        scenario="health",
        connections=32,
        ai_ms=0,
    )
    assert (parsed.requests, parsed.rps, parsed.p50_ms, parsed.p99_ms) == (1234, 123.4, 5.1, 20.5)
    assert parsed.errors == 3
    with pytest.raises(ValueError, match="no RESULT"):
        t.parse_result("wrk: connection refused", target="x", scenario="y", connections=1, ai_ms=0)


def verdicts(runs, rss=(120.0, 130.0)):
    return {target.name: target for target in t.evaluate(runs, worker_rss_mb=list(rss))}


def test_ratios_are_ours_over_the_original_in_the_same_cell():
    found = verdicts(
        [
            run("anchor", "next_question", 32, 0, 300.0),
            run("gateway", "next_question", 32, 0, 390.0),  # 1.30x >= 1.2
            run("anchor", "health", 32, 0, 1000.0),
            run("gateway", "health", 32, 0, 900.0),  # 0.90x < 1.0
        ]
    )
    nq = found["next_question, AI 0 ms, 32 conn: ours / original req/s"]
    assert nq.met is True and nq.measured.startswith("1.30x")
    health = found["health, AI 0 ms, 32 conn: ours / original req/s"]
    assert health.met is False and health.verdict == "MISSED"
    assert found["diagnosis, AI 0 ms, 32 conn: ours / original req/s"].verdict == "not measured"


def test_a_faster_target_with_errors_is_not_met():
    found = verdicts(
        [
            run("anchor", "diagnosis", 128, 200, 100.0),
            run("gateway", "diagnosis", 128, 200, 200.0, errors=1),
        ]
    )
    assert found["diagnosis, AI 200 ms, 128 conn: ours / original req/s"].met is False


def test_starvation_latency_errors_and_memory_are_judged():
    runs = [
        run("gateway", "healthy", 1, 2000, 500.0, p99=12.0, phase="starvation"),
        run("gateway", "users_me", 1, 2000, 200.0, p99=151.0, phase="starvation"),
        run("gateway", "diagnosis", 256, 2000, 50.0, phase="starvation"),
        run("gateway", "diagnosis", 1, 200, 2.3, p50=431.0),
        run("gateway", "diagnosis", 32, 200, 60.0, phase="soak"),
    ]
    found = verdicts(runs, rss=(120.0, 151.0))
    assert found["256 diagnoses on a 2 s AI: healthy p99"].met is True
    assert found["256 diagnoses on a 2 s AI: users_me p99"].met is False
    assert found["256 diagnoses on a 2 s AI: failed requests"].met is True
    assert found["worker RSS after the 256 diagnoses"].met is False
    assert found["diagnosis, AI 200 ms, 1 conn: p50"].met is False  # 431 > 430
    assert found["30 s soak, diagnosis, AI 200 ms, 32 conn: failed requests"].met is True
    table = t.format_targets(list(found.values()))
    assert "MISSED" in table and "not measured" in table
