"""The command line, run in-process as a user would type it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.runtime.cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


@pytest.fixture
def db_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def test_demo_runs_the_whole_job_offline(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Alignment score:" in result.output
    assert "Since the previous round" in result.output  # two rounds, so a trend
    assert "- Responses: 42 of 42 (100%)" in result.output  # README: 42 people, all polled
    assert "| sales |" in result.output
    assert "| support |" in result.output
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    assert report["respondents"] == 42
    assert set(report["teams"]) == {"sales", "support", "engineering", "leadership"}
    assert "Alignment score" in (out / "report.md").read_text()


def test_demo_runs_a_mirror_survey_through_the_web_form(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Customers of enterprise show" in result.output
    assert "30 customers); staff W=" in result.output
    report = json.loads((out / "report.json").read_text())
    customers = report["customer_agreement"]
    assert customers["segment"] == "enterprise"
    assert customers["respondents"] == 30
    assert 0 < customers["kendall_w"] < 1


def test_demo_is_reproducible(tmp_path: Path) -> None:
    first = runner.invoke(cli, ["demo", "--out", str(tmp_path / "a")])
    second = runner.invoke(cli, ["demo", "--out", str(tmp_path / "b")])
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())
    assert first.exit_code == second.exit_code == 0
    assert a["consensus"] == b["consensus"]
    assert a["alignment_score"] == b["alignment_score"]


def test_stats_json_has_every_documented_key() -> None:
    result = runner.invoke(
        cli,
        [
            "stats",
            "--responses",
            str(EXAMPLES / "responses.csv"),
            "--research",
            str(EXAMPLES / "research_top3.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in (
        "respondents",
        "attributes",
        "consensus",
        "kendall_w",
        "kendall_w_p",
        "customer_ranking",
        "top3_hits",
        "spearman",
        "kendall_tau",
        "rbo",
        "alignment_score",
        "surprises",
        "teams",
    ):
        assert key in payload, key
    assert payload["respondents"] == 24
    assert {s["customer_segment"] for s in payload["segments"]} == {"smb", "enterprise"}
    for team in payload["teams"].values():
        assert team.get("suppressed") or team["n"] >= 5


def test_stats_one_segment() -> None:
    result = runner.invoke(
        cli,
        [
            "stats",
            "--responses",
            str(EXAMPLES / "responses.csv"),
            "--research",
            str(EXAMPLES / "research_top3.csv"),
            "--segment",
            "smb",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [s["customer_segment"] for s in json.loads(result.stdout)["segments"]] == ["smb"]


def test_stats_refuses_a_bad_file_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "research.csv"
    bad.write_text("attribute,rank\nprice,1\nproduct quality,two\nreliability,3\n")
    result = runner.invoke(
        cli, ["stats", "--responses", str(EXAMPLES / "responses.csv"), "--research", str(bad)]
    )
    assert result.exit_code == 1
    assert "line 3" in result.output
    assert "rank" in result.output


def test_research_import_with_one_bad_row_changes_nothing(db_env: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = (EXAMPLES / "research_ranking.csv").read_text().splitlines()
    lines[4] = "not an attribute,4"
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli, ["research", "import", str(bad)])
    assert result.exit_code == 1
    assert "line 5" in result.output
    assert "not an attribute" in result.output
    listing = runner.invoke(cli, ["research", "list"])
    assert "No research imported yet" in listing.output
    good = runner.invoke(cli, ["research", "import", str(EXAMPLES / "research_ranking.csv")])
    assert good.exit_code == 0
    assert "Imported 1 study" in good.output


def test_attributes_from_the_cli(db_env: str) -> None:
    assert runner.invoke(cli, ["attributes", "add", "sustainability", "Green"]).exit_code == 0
    listed = runner.invoke(cli, ["attributes", "list"]).output
    assert "sustainability — Green" in listed
    assert "9 attributes" in listed
    duplicate = runner.invoke(cli, ["attributes", "add", "price"])
    assert duplicate.exit_code == 1
    assert "Attribute 'price' already exists" in duplicate.output


def test_report_and_export_write_aggregates_only(db_env: str, tmp_path: Path) -> None:
    demo_out = tmp_path / "demo"
    assert runner.invoke(cli, ["demo", "--out", str(demo_out)]).exit_code == 0
    demo_db = f"sqlite+aiosqlite:///{demo_out / 'demo.db'}"
    env = {"DATABASE_URL": demo_db}
    out = tmp_path / "report"
    result = runner.invoke(
        cli, ["report", "--out", str(out), "--workspace", "console:demo"], env=env
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "chart.png"}
    export = tmp_path / "export.csv"
    result = runner.invoke(
        cli, ["export", "--out", str(export), "--workspace", "console:demo"], env=env
    )
    assert result.exit_code == 0, result.output
    text = export.read_text()
    assert text.startswith("round,closed_at,group,respondents,attribute")
    assert "sales-01" not in text
    assert "leadership-01" not in text  # the demo's admin, one of the 42
    assert ",leadership," in text  # 6 people: shown; groups under 5 would be left out


def test_a_bad_setting_stops_with_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNMENT_TIME_ZONE", "Mars/Olympus")
    result = runner.invoke(cli, ["attributes", "list"])
    assert result.exit_code == 2
    assert "bad setting ALIGNMENT_TIME_ZONE" in result.output


def test_db_upgrade(db_env: str) -> None:
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0
    assert "up to date" in result.output


@pytest.mark.parametrize(
    ("database", "args", "why"),
    [
        ("sqlite+aiosqlite:///bot.db", ["--workers", "2"], "several workers need PostgreSQL"),
        ("postgresql+asyncpg://x@127.0.0.1:1/x", ["--workers", "2", "--port", "0"], "fixed port"),
        ("sqlite+aiosqlite:///bot.db", ["--workers", "0"], "at least 1"),
    ],
)
def test_serve_refuses_workers_it_cannot_run(
    monkeypatch: pytest.MonkeyPatch, database: str, args: list[str], why: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", database)
    result = runner.invoke(cli, ["serve", *args])
    assert result.exit_code == 2
    assert why in result.output
    assert not Path("bot.db").exists()  # refused before anything was opened


def test_each_worker_gets_its_share_of_the_send_rate() -> None:
    from bot.runtime.supervisor import worker_env

    assert worker_env({"A": "1"}, 200.0, 4) == {"A": "1", "ALIGNMENT_SEND_RATE": "50.0"}
    assert "ALIGNMENT_SEND_RATE" not in worker_env({}, 0.0, 4)  # unlimited stays unlimited


def test_help_loads_no_database_statistics_or_chart_stack() -> None:
    # `alignment --help` must stay quick (bench/startup.py times it): the database layer,
    # Alembic, scipy, matplotlib and the web server load only in the commands that use them.
    script = (
        "import json, sys\n"
        "sys.argv = ['alignment', '--help']\n"
        "from bot.runtime.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Usage" in done.stdout
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    heavy = {"alembic", "sqlalchemy", "scipy", "matplotlib", "numpy", "aiohttp", "botbuilder"}
    assert loaded & heavy == set()


# --- `stats` (issue #14; issue #16 item 9) ------------------------------------------------


def _stats(*args: str) -> str:
    result = runner.invoke(cli, ["stats", "--responses", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_stats_prints_every_segment_not_one() -> None:
    text = _stats(
        str(EXAMPLES / "responses.csv"), "--research", str(EXAMPLES / "research_top3.csv")
    )
    assert "segment: smb" in text
    assert "segment: enterprise" in text


def test_stats_prints_surprises_in_words_and_the_permutation_p() -> None:
    text = _stats(
        str(EXAMPLES / "responses.csv"), "--research", str(EXAMPLES / "research_top3.csv")
    )
    surprises = [line for line in text.splitlines() if "surprise:" in line]
    assert surprises
    assert all("{" not in line and "'attribute'" not in line for line in surprises)
    assert "points (90% interval" in surprises[0]
    assert "kendall_w_permutation_p:" in text
    assert "alignment_score_permutation_p:" in text


def test_stats_research_without_shares_shows_no_modelled_share(tmp_path: Path) -> None:
    research = str(EXAMPLES / "research_ranking.csv")
    text = _stats(str(EXAMPLES / "responses.csv"), "--research", research)
    assert "no share test" in text
    assert "surprise:" not in text
    payload = json.loads(_stats(str(EXAMPLES / "responses.csv"), "--research", research, "--json"))
    assert payload["customer_top_k_share"] is None
    assert payload["surprises"] == []


def test_stats_honours_the_files_k(tmp_path: Path) -> None:
    names = ["price", "product quality", "reliability", "delivery speed", "customer support"]
    lines = ["respondent,team,rank_1,rank_2,rank_3,rank_4,rank_5"]
    lines += [f"r{i},ops," + ",".join(names[i % 2 :] + names[: i % 2]) for i in range(8)]
    responses = tmp_path / "responses.csv"
    responses.write_text("\n".join(lines) + "\n")
    research = str(EXAMPLES / "research_ranking.csv")
    payload = json.loads(_stats(str(responses), "--research", research, "--json"))
    assert payload["k"] == 5  # formerly silently min(k, 3)
    assert payload["employee_top_k_share"]["delivery speed"] == 1.0  # named 4th or 5th


def test_stats_refuses_research_with_all_zero_importances(tmp_path: Path) -> None:
    research = tmp_path / "zero.csv"
    research.write_text("attribute,importance\nprice,0\nreliability,0\nease of use,0\n")
    result = runner.invoke(
        cli, ["stats", "--responses", str(EXAMPLES / "responses.csv"), "--research", str(research)]
    )
    assert result.exit_code == 1
    assert "every importance is 0" in " ".join(result.output.split())  # rich wraps lines
    assert "Traceback" not in result.output
