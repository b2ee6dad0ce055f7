"""``instance/run.env``: the flask commands take the URLs a running ``make run`` used."""

from __future__ import annotations

from app.cli.run_env import read_run_env


def test_the_commands_take_the_urls_of_make_run(make_app, tmp_path, monkeypatch):
    (tmp_path / "run.env").write_text(
        "# written by run-stack\nGATEWAY_URL=http://127.0.0.1:8240\n"
        "AI_SERVICE_URL=http://127.0.0.1:8241/\nDATABASE_URL=ignored\n"
    )
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("AI_SERVICE_URL", raising=False)
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    app = make_app()
    assert app.config["AI_SERVICE_URL"] == "http://127.0.0.1:8241"
    assert app.config["GATEWAY_URL"] == "http://127.0.0.1:8240"
    assert read_run_env(str(tmp_path)) == {
        "GATEWAY_URL": "http://127.0.0.1:8240",
        "AI_SERVICE_URL": "http://127.0.0.1:8241",
    }


def test_a_url_set_in_the_environment_wins(make_app, tmp_path, monkeypatch):
    (tmp_path / "run.env").write_text("AI_SERVICE_URL=http://127.0.0.1:8241\n")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("AI_SERVICE_URL", "http://ai.example:9000")
    app = make_app(AI_SERVICE_URL="http://ai.example:9000")
    assert app.config["AI_SERVICE_URL"] == "http://ai.example:9000"


def test_without_run_env_nothing_changes(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    assert read_run_env(str(tmp_path)) == {}
    assert make_app().config["GATEWAY_URL"] == "http://127.0.0.1:8080"


def test_a_url_given_in_the_app_config_wins(make_app, tmp_path, monkeypatch):
    """An app built with its own AI URL (as the tests build theirs) keeps it while a
    ``make run`` serves beside it: found when every AI-fault test of a worktree failed
    because they all reached the running stack's AI instead of their fake one."""
    (tmp_path / "run.env").write_text("AI_SERVICE_URL=http://127.0.0.1:8241\n")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("AI_SERVICE_URL", raising=False)
    app = make_app(AI_SERVICE_URL="http://ai.example:9000")
    assert app.config["AI_SERVICE_URL"] == "http://ai.example:9000"
