"""The local harness: `paperbot ask/today/stats/index`, its JSON contract and bad input."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest

from bot.cli import main
from tests.conftest import SETTINGS

KEYS = {"question", "answer", "abstained", "sources", "took_ms"}
SOURCE_KEYS = {"id", "title", "url", "score", "quote"}


@pytest.fixture
def cli(library, library_dir, capsys):
    """Run `paperbot` in-process against the session's library; returns (exit code, stdout, stderr)."""

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = main(["--data-dir", str(library_dir), *argv])
        finally:
            sys.stdin = sys.__stdin__
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_ask_json_follows_the_contract(cli):
    code, out, _ = cli("ask", "--json", "--top-k", "3", "which paper proposes Adam?")
    assert code == 0
    data = json.loads(out)
    assert set(data) == KEYS and data["abstained"] is False and isinstance(data["took_ms"], float)
    assert len(data["sources"]) == 3 and all(set(s) == SOURCE_KEYS for s in data["sources"])
    assert data["sources"][0]["title"] == "Adam: A Method for Stochastic Optimization"
    assert [s["score"] for s in data["sources"]] == sorted((s["score"] for s in data["sources"]), reverse=True)


def test_ask_json_keeps_sources_when_it_abstains(cli):
    code, out, _ = cli("ask", "--json", "how long should I boil an egg?")
    data = json.loads(out)
    assert code == 0 and data["abstained"] is True and len(data["sources"]) == 5


def test_ask_json_dash_answers_one_json_line_per_input_line(cli):
    code, out, _ = cli("ask", "--json", "-", stdin="pointer networks\n\nscaling laws for sparse models\n")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(lines) == 3
    assert lines[0]["sources"][0]["title"] == "Pointer Networks"
    assert lines[1]["abstained"] is True and lines[1]["sources"] == []
    assert lines[2]["question"] == "scaling laws for sparse models"


def test_readable_ask_and_empty_question(cli):
    code, out, _ = cli("ask", "Is there a paper on pruning convolutional filters for medical images?")
    assert code == 0 and "Beta-Rank" in out and "> " in out and "Sources:" in out
    code, out, err = cli("ask", "  @everyone  ")
    assert code == 2 and out == "" and "empty" in err


def test_top_k_out_of_range_is_a_usage_error(cli):
    with pytest.raises(SystemExit) as exc:
        cli("ask", "--top-k", "0", "x")
    assert exc.value.code == 2


def test_today_prints_the_newest_day_ranked_by_upvotes(cli):
    code, out, _ = cli("today")
    assert code == 0 and out.startswith("📰 Papers of Thu 12 Nov 2026")
    assert "10 of 60 papers" in out
    upvotes = [int(x) for x in re.findall(r"⬆ (\d+)", out)]
    assert upvotes[0] == 3 and upvotes == sorted(upvotes, reverse=True)


def test_stats_json(cli, library):
    code, out, _ = cli("stats", "--json")
    stats = json.loads(out)
    assert code == 0 and stats["papers"] == 393 and stats["index_vectors"] == 393
    assert stats["dimension"] == 384 and stats["sources"] == {"hf-page": 393} and stats["backend"] == "sqlite"


def test_index_corpus_reports_bad_lines_by_number_and_reimport_changes_nothing(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    rows = [
        json.dumps({"id": "d1", "title": "Alpha study", "abstract": "Alpha particles were measured. They decay."}),
        "{not json",
        json.dumps({"id": "d2", "title": "Beta study"}),
        json.dumps({"id": "d3", "title": "Gamma study", "abstract": "Gamma rays.", "upvotes": -1}),
        "",
        json.dumps(
            {
                "id": 4,
                "title": "Delta study",
                "abstract": "Delta wings fly.",
                "authors": ["A. B"],
                "published": "2024-05-01",
            }
        ),
    ]
    corpus.write_text("\n".join(rows) + "\n")
    data_dir = str(tmp_path / "lib")
    code = main(["--data-dir", data_dir, "index", "--no-default-corpus", "--corpus", str(corpus)])
    out, err = capsys.readouterr()
    assert code == 0 and "2 new" in out and "3 skipped" in out
    assert ":2:" in err and ":3:" in err and ":4:" in err and "'abstract'" in err
    main(["--data-dir", data_dir, "index", "--no-default-corpus", "--corpus", str(corpus)])
    out, _ = capsys.readouterr()
    assert "0 new, 0 updated, 2 unchanged" in out
    main(["--data-dir", data_dir, "ask", "--json", "--top-k", "1", "delta wings"])
    assert json.loads(capsys.readouterr().out)["sources"][0]["id"] == "4"


def test_index_with_a_missing_file_is_a_usage_error(tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "index", "--corpus", str(tmp_path / "nope.jsonl")])
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_start_without_a_token_and_without_a_terminal_answers_a_sample_and_exits(cli, monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    code, out, _ = cli("start", stdin="")
    assert code == 0 and "DISCORD_TOKEN is not set" in out and "Beta-Rank" in out and "📰 Papers of" in out


def test_undecodable_bytes_and_control_characters_neither_crash_ask_nor_import(cli, tmp_path, capsys):
    # Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape), as do "\ud800" escapes in JSON.
    code, out, _ = cli("ask", "--json", "-", stdin="\udcff\udcfe pointer networks\n")
    assert code == 0 and json.loads(out)["sources"][0]["title"] == "Pointer Networks"
    corpus = tmp_path / "odd.jsonl"
    row = {"id": "e1", "title": "Epsilon \ud800 study\u200b", "abstract": "Epsilon\x00 values vary.\x07 Widely."}
    row["authors"] = ["Ann \udcff Lee", "\x00"]
    blank = {"id": "e2", "title": "\x00\u200b", "abstract": "Only control characters in the title."}
    corpus.write_text(json.dumps(row) + "\n" + json.dumps(blank) + "\n")
    data_dir = str(tmp_path / "lib")
    assert main(["--data-dir", data_dir, "index", "--no-default-corpus", "--corpus", str(corpus)]) == 0
    out, err = capsys.readouterr()
    assert "1 new" in out and "1 skipped" in out and ":2: skipped: missing 'title'" in err
    main(["--data-dir", data_dir, "paper", "e1"])
    shown = capsys.readouterr().out
    assert "Epsilon study" in shown and "Epsilon values vary. Widely." in shown and "Ann Lee" in shown


def test_ask_about_one_paper_quotes_it_and_an_unknown_paper_is_a_clear_failure(cli):
    title = "POINTS: Improving Your Vision-language Model with Affordable Strategies"
    code, out, _ = cli("ask", "--paper", title, "how many parameters does the model have?")
    assert code == 0 and f'From "{title}"' in out and "9B parameter model" in out
    code, out, _ = cli("ask", "--json", "--paper", "no such paper about sourdough", "what dataset?")
    data = json.loads(out)
    assert code == 1 and data["abstained"] is True and data["sources"] == []
    assert "No paper in the library matches" in data["answer"]


def test_paper_by_title_words_shows_it_and_nonsense_is_no_match(cli):
    code, out, _ = cli("paper", "Pointer Networks")
    assert code == 0 and "Pointer Networks" in out
    code, out, err = cli("paper", "pizza recipe with pineapple")
    assert code == 1 and out == "" and "no paper matches 'pizza recipe with pineapple'" in err


def test_setup_model_reports_the_cached_export_without_exporting_again(capsys):
    from retrieval.encoder.embedder import load_embedder
    from retrieval.encoder.export import ONNX_FILE, model_cache_dir

    directory = model_cache_dir(load_embedder(cache_dir=SETTINGS.cache_dir).spec, SETTINGS.cache_dir)
    mtime = (directory / ONNX_FILE).stat().st_mtime_ns
    code, out = main(["setup-model"]), capsys.readouterr().out
    assert code == 0 and str(directory) in out and "fused: True" in out
    assert (directory / ONNX_FILE).stat().st_mtime_ns == mtime


def test_index_rebuild_reembeds_every_paper(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"id": f"r{i}", "title": f"Title {i}", "abstract": f"Text {i}. More."}) for i in range(3))
    )
    data_dir = str(tmp_path / "lib")
    assert main(["--data-dir", data_dir, "index", "--no-default-corpus", "--corpus", str(corpus)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data_dir, "index", "--no-default-corpus", "--rebuild"]) == 0
    assert "3 re-embedded; library: 3 papers, index: 3 papers" in capsys.readouterr().out


def test_index_on_cuda_without_a_cuda_runtime_is_one_line_and_writes_nothing(tmp_path, capsys):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA")
    data_dir = tmp_path / "lib"
    code = main(["--data-dir", str(data_dir), "index", "--no-default-corpus", "--device", "cuda"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "no CUDA provider" in err and "Traceback" not in err
    assert not data_dir.exists()
