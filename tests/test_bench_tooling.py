"""The benchmark's tooling (bench/): its parsers, ratios, verdicts and bodies, so that it cannot
rot silently. Nothing here is timed; the one test that runs wrk only checks what wrk printed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bench import bench, wrkstats

LINE = (
    "BENCH_RESULT requests=1200 duration_us=10000000 p50_us=51234 p90_us=52000 p99_us=60500 "
    "max_us=70000 connect=0 read=1 write=0 timeout=2 status=3"
)


def result(requests: int = 1000, p50_us: int = 1000, **errors: int) -> wrkstats.WrkResult:
    return wrkstats.WrkResult(
        requests=requests,
        duration_us=10_000_000,
        p50_us=p50_us,
        p90_us=p50_us,
        p99_us=2 * p50_us,
        max_us=3 * p50_us,
        **errors,
    )


def cell(name, via, connections, rps, p50_ms, *, delay=50, **errors) -> wrkstats.Cell:
    res = result(requests=int(rps * 10), p50_us=int(p50_ms * 1000), **errors)
    return wrkstats.Cell(name, via, connections, delay, 10, res)


def test_parse_the_result_line_among_wrks_own_output():
    text = f"Running 10s test @ http://127.0.0.1:1/\n  1 threads and 1 connections\n{LINE}\n"
    parsed = wrkstats.parse_wrk_output(text)
    assert parsed.requests == 1200
    assert parsed.rps == pytest.approx(120.0)
    assert parsed.p50_ms == pytest.approx(51.234)
    assert parsed.p99_ms == pytest.approx(60.5)
    assert parsed.socket_errors == 3
    assert parsed.errors == 6


def test_parse_refuses_output_without_a_complete_result_line():
    with pytest.raises(ValueError, match="no BENCH_RESULT line"):
        wrkstats.parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")
    with pytest.raises(ValueError, match="lacks p99_us"):
        wrkstats.parse_wrk_output(LINE.replace("p99_us=60500 ", ""))


def test_parse_proc_status_sizes_in_kib():
    text = "Name:\tgunicorn\nVmPeak:\t  300000 kB\nVmHWM:\t  150000 kB\nVmRSS:\t  120000 kB\n"
    assert wrkstats.parse_proc_status(text) == {
        "VmPeak": 300000,
        "VmHWM": 150000,
        "VmRSS": 120000,
    }


def test_parse_smaps_rollup_pss_and_private_in_kib():
    text = (
        "55e5ef16b000-7ffed82f7000 ---p 00000000 00:00 0   [rollup]\n"
        "Rss:              121000 kB\nPss:               70000 kB\nPss_Anon:  60000 kB\n"
        "Shared_Clean:      30000 kB\nShared_Dirty:      40000 kB\n"
        "Private_Clean:      1000 kB\nPrivate_Dirty:     50000 kB\n"
    )
    assert wrkstats.parse_smaps_rollup(text) == {"Pss": 70000, "Private": 51000}


def test_ratios_compare_cells_of_the_same_run():
    cells = [
        cell(wrkstats.DIRECT_NEXT, "direct", 1, 19.0, 51.5),
        cell(wrkstats.NEXT_QUESTION, "gateway", 1, 18.0, 53.0),
        cell(wrkstats.DIRECT_NEXT, "direct", 32, 600.0, 52.0),
        cell(wrkstats.NEXT_QUESTION, "gateway", 32, 540.0, 58.0),
        cell(wrkstats.HEALTHY, "gateway", 1, 900.0, 1.0, delay=None),
        cell(wrkstats.USERS_ME, "gateway", 1, 300.0, 3.0, delay=None),
    ]
    found = wrkstats.ratios(cells)
    assert found["next_added_p50_ms"] == pytest.approx(1.5)
    assert found["next_rps_ratio"] == pytest.approx(0.9)
    assert found["me_added_p50_ms"] == pytest.approx(2.0)
    assert "me_rps_ratio" not in found  # no 32-connection cells of those two


def test_targets_met_missed_and_not_measured():
    cells = [
        cell(wrkstats.DIRECT_NEXT, "direct", 1, 19.0, 51.5),
        cell(wrkstats.NEXT_QUESTION, "gateway", 1, 17.0, 54.0),
        cell(wrkstats.DIAGNOSIS, "gateway", 1, 2.3, 430.0, delay=200),
        cell(wrkstats.DIAGNOSIS, "gateway", 32, 60.0, 500.0, delay=200, timeout=1),
    ]
    measured = wrkstats.Measurements(
        worker_rss_kib=[100 * 1024, 110 * 1024],
        worker_hwm_kib=[130 * 1024],
        upload_growth_kib={"POST /api/diagnosis": 12 * 1024},
    )
    verdicts = {t.name.split(",")[0]: t.verdict for t in wrkstats.evaluate_targets(cells, measured)}
    assert verdicts == {
        "next_question: p50 added by the gateway": "MISSED",  # 2.5 ms
        "next_question: gateway/direct req/s": "n/a",  # no 32-connection cells
        "diagnosis: p50": "met",  # 430 <= 460
        "diagnosis: failed requests": "MISSED",  # one timeout
        "worker RSS after the run (largest worker)": "met",
        "peak RSS growth": "met",
    }
    table = wrkstats.format_targets(wrkstats.evaluate_targets(cells, measured))
    assert "MISSED" in table and "110.0 MB (peak VmHWM 130.0 MB)" in table


def test_table_and_csv(tmp_path: Path):
    cells = [cell(wrkstats.HEALTHY, "gateway", 32, 1500.0, 20.0, delay=None, status=2)]
    table = wrkstats.format_table(cells)
    assert "GET /healthy" in table and "1500.0" in table
    path = tmp_path / "cells.csv"
    wrkstats.write_csv(path, map(wrkstats.cell_row, cells), wrkstats.CSV_COLUMNS)
    header, row = path.read_text().splitlines()
    assert header.split(",") == list(wrkstats.CSV_COLUMNS)
    assert row.startswith("gateway,GET /healthy,32,,10,15000,1500.0,20.0,")
    assert row.endswith(",2,2,0,,,")


def test_multipart_body_is_what_flask_parses():
    body, content_type = bench.multipart(
        {"anamnesis": json.dumps({"age": 54})}, b"\xff\xd8jpeg", "x.jpg"
    )
    request = Request(
        EnvironBuilder(
            method="POST", data=body, headers={"Content-Type": content_type}
        ).get_environ()
    )
    try:
        assert json.loads(request.form["anamnesis"]) == {"age": 54}
        assert request.files["image"].read() == b"\xff\xd8jpeg"
        assert request.files["image"].mimetype == "image/jpeg"
    finally:
        request.close()


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (bench/run installs it)"
)
def test_wrk_script_posts_the_body_file_and_prints_its_result(
    tmp_path: Path, httpserver: HTTPServer
):
    body = tmp_path / "body.json"
    body.write_text('{"age": 54}')
    httpserver.expect_request("/next", method="POST", data='{"age": 54}').respond_with_json({})
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c1",
            "-d1s",
            "-H",
            "Content-Type: application/json",
            "-s",
            str(Path(bench.BENCH) / "wrk.lua"),
            httpserver.url_for("/next"),
            "--",
            str(body),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    parsed = wrkstats.parse_wrk_output(done.stdout)
    assert parsed.requests > 0
    assert parsed.errors == 0  # every request matched the expected POST body (else a 500)


def test_cpu_parsers():
    stat = "1234 (gunicorn: worker [wsgi:app]) S 1 2 3 4 5 6 7 8 9 10 111 22 33 44 20 0 17 0"
    assert wrkstats.parse_proc_stat_cpu(stat) == (111, 22, 33, 44)
    proc_stat = "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n"
    assert wrkstats.parse_machine_cpu(proc_stat) == (161, 981)


def test_cpu_per_request_in_table_and_csv(tmp_path: Path):
    base = cell(wrkstats.HEALTHY, "gateway", 1, 100.0, 1.0, delay=None)
    measured = wrkstats.Cell(**{**base.__dict__, "gateway_cpu_s": 2.5, "machine_busy": 0.5})
    assert measured.cpu_ms_per_request(measured.gateway_cpu_s) == pytest.approx(2.5)
    assert measured.cpu_ms_per_request(None) is None
    line = wrkstats.format_table([measured]).splitlines()[-1]
    assert line.split()[-2:] == ["2.50", "50"]
    row = wrkstats.cell_row(measured)
    assert row["gateway_cpu_ms_per_req"] == 2.5 and row["ai_cpu_ms_per_req"] == ""


def test_diagnosis_compared_with_the_ais_own_path():
    cells = [
        cell(wrkstats.DIRECT_QUALITY, "direct", 1, 4.4, 221.0, delay=200),
        cell(wrkstats.DIRECT_PREDICT, "direct", 1, 4.0, 234.0, delay=200),
        cell(wrkstats.DIRECT_TRIAGE, "direct", 1, 4.9, 202.0, delay=200),
        cell(wrkstats.DIAGNOSIS, "gateway", 1, 2.0, 480.0, delay=200),
    ]
    found = wrkstats.ratios(cells)
    assert found["diagnosis_ai_path_p50_ms"] == pytest.approx(436.0)  # max(221, 234) + 202
    assert found["diagnosis_added_p50_ms"] == pytest.approx(44.0)


def test_bench_ports_come_from_bench_ports_when_set(monkeypatch: pytest.MonkeyPatch):
    """On the shared machine each developer serves on a range of ports (BENCH_PORTS)."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        first = busy.getsockname()[1]
        monkeypatch.setenv("BENCH_PORTS", f"{first}-{first + 40}")
        monkeypatch.setattr(bench, "_taken", set())
        ports = [bench.free_port() for _ in range(3)]
    assert first not in ports  # in use: skipped
    assert len(set(ports)) == 3
    assert all(first < port <= first + 40 for port in ports)
    monkeypatch.delenv("BENCH_PORTS")
    assert bench.free_port() > 0
