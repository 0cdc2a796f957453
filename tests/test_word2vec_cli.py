"""word2vec's command line: the new spellings, the old ones (same run, one note each),
--strategy, resuming older runs, and the reading verbs on a trained run."""

import dataclasses
import json

import numpy as np
import pytest

from common.cli import run_cli
from tests.conftest import (REPO_ROOT, assert_one_line_error, call_cli, make_corpus,
                            run_on_two_cpus, run_python)
from word2vec import skipgram
from word2vec.corpus import keep_probabilities
from word2vec.model import PRESETS, STEPS_PER_EXECUTION
from word2vec.pairs import epoch_steps


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text(make_corpus(120), encoding="utf-8")
    return path


def train_argv(source_flag, corpus, out_dir, *flags):
    return ["train", source_flag, str(corpus), "--preset", "test", "--out_dir", str(out_dir),
            "--verbose", "0", *flags]


def saved_config(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    config.pop("provenance")
    return config


def test_old_spellings_give_the_same_run_with_one_note_each(tmp_path, corpus_path, capsys):
    runs = {}
    for name, (text_flag, arch_flag) in [("new", ("--text", "--arch")),
                                         ("old", ("--corpus", "--model"))]:
        runs[name] = tmp_path / name
        run_cli(skipgram.main, train_argv(text_flag, corpus_path, runs[name], arch_flag, "cbow"))
        captured = capsys.readouterr()
        runs[name, "err"], runs[name, "out"] = captured.err, captured.out
    assert runs["new", "err"] == ""
    assert runs["old", "err"].splitlines() == [
        "note: --corpus is deprecated; use --text (same meaning)",
        "note: --model is deprecated; use --arch (same meaning)"]
    assert saved_config(runs["new"]) == saved_config(runs["old"])
    assert saved_config(runs["old"])["arch"] == "cbow"
    np.testing.assert_allclose(np.load(runs["old"] / "embeddings.npy"),
                               np.load(runs["new"] / "embeddings.npy"), atol=1e-5)
    # train ends with where the run is and the exact commands for it.
    tail = runs["new", "out"].split("\nrun directory: ")[-1]
    assert tail.startswith(str(runs["new"]))
    for verb in ("neighbors", "evaluate", "export"):
        assert f"python -m word2vec.skipgram {verb} --run_dir {runs['new']}" in tail


def test_the_command_module_imports_nothing_heavy():
    result = run_python("import sys, word2vec.skipgram; print(sorted(m for m in sys.modules if "
                        "m.split('.')[0] in ('tensorflow', 'keras', 'numpy', 'matplotlib') or "
                        "m == 'word2vec.skipgram_verbs'))", REPO_ROOT, with_project=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-500:]


def test_model_and_arch_that_disagree(tmp_path, corpus_path, capsys):
    status, _, stderr = call_cli(skipgram.main, train_argv(
        "--text", corpus_path, tmp_path / "run", "--model", "cbow", "--arch", "skipgram"), capsys)
    assert_one_line_error(status, stderr, "--model cbow and --arch skipgram disagree")
    assert not (tmp_path / "run").exists()


def test_multi_worker_without_tf_config(tmp_path, corpus_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    status, _, stderr = call_cli(skipgram.main, train_argv(
        "--text", corpus_path, tmp_path / "run", "--strategy", "multi_worker"), capsys)
    assert_one_line_error(status, stderr, "TF_CONFIG")
    assert not (tmp_path / "run").exists()


def test_mirrored_strategy_trains(tmp_path, corpus_path, capsys):
    run_cli(skipgram.main, train_argv("--text", corpus_path, tmp_path / "run",
                                      "--strategy", "mirrored"))
    history = json.loads((tmp_path / "run" / "state.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(np.isfinite(row["loss"]) for row in history)


def test_resume_a_run_made_before_a_field_existed_and_with_old_key_names(tmp_path):
    tokens = make_corpus(120).split()
    run_dir = tmp_path / "run"
    config = PRESETS["test"]
    _, vocab = skipgram.train(config, str(run_dir), tokens, seed=3, verbose=0)
    saved = json.loads((run_dir / "config.json").read_text())
    del saved["sampler"]  # a field added after this run was made: it takes its default
    saved["model"], saved["corpus"] = saved.pop("arch"), saved.pop("source")  # old names
    (run_dir / "config.json").write_text(json.dumps(saved))
    model, _ = skipgram.train(dataclasses.replace(config, epochs=3), str(run_dir), tokens,
                              seed=3, resume=True, verbose=0)
    state = json.loads((run_dir / "state.json").read_text())
    assert [row["epoch"] for row in state["history"]] == [1, 2, 3]
    # The learning rate decays over the raised epoch count, from where the run stopped.
    keep = keep_probabilities(vocab.counts, config.sample)
    steps = epoch_steps(vocab.training_ids(tokens), keep, config.window, config.arch,
                        config.batch_size, multiple_of=STEPS_PER_EXECUTION)
    assert steps % STEPS_PER_EXECUTION == 0
    assert model.optimizer.iterations.numpy() == 3 * steps
    schedule = model.optimizer._learning_rate
    assert schedule.total_steps == 3 * steps and schedule.initial == config.learning_rate


def test_reading_verbs_on_a_trained_run(tmp_path, corpus_path, capsys):
    run_dir = tmp_path / "run"
    run_cli(skipgram.main, train_argv("--text", corpus_path, run_dir))
    capsys.readouterr()
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("cat\tdog\t7.5\nthe\ta\t3.0\nzebra\tpark!\t5.0\n", encoding="utf-8")
    before = sorted(p.name for p in run_dir.iterdir())
    run_cli(skipgram.main, ["evaluate", "--run_dir", str(run_dir), "--wordsim", str(pairs),
                            "--checkpoint", "last"])
    results = json.loads((run_dir / "results.json").read_text())
    assert results["wordsim_pairs"] == 2 and results["wordsim_skipped"] == 1
    assert -1 <= results["wordsim_spearman"] <= 1 and "tensorflow" in results["provenance"]
    run_cli(skipgram.main, ["neighbors", "--run_dir", str(run_dir), "the", "--k", "3"])
    assert capsys.readouterr().out.splitlines()[-1].startswith("the: ")
    # evaluate added results.json and nothing else.
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(before + ["results.json"])


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_trains_and_resumes(tmp_path, corpus_path):
    """Two replicas, each run in a fresh process: TensorFlow splits the CPU only before it
    starts, and two MirroredStrategy runs in one process clash in their collective ops."""
    run_cli(skipgram.main, train_argv("--text", corpus_path, tmp_path / "skipgram"))
    for arch, extra in [("cbow", []), ("skipgram", ["--resume", "--epochs", "3"])]:
        argv = train_argv("--text", corpus_path, tmp_path / arch, "--arch", arch,
                          "--strategy", "mirrored", *extra)
        run_on_two_cpus("from common.cli import run_cli\nfrom word2vec import skipgram\n"
                        "run_cli(skipgram.main, ARGV)\n", timeout=600, ARGV=argv)
    for arch, epochs in [("cbow", 2), ("skipgram", 3)]:
        state = json.loads((tmp_path / arch / "state.json").read_text())
        assert state["epoch"] == epochs
        assert all(np.isfinite(row["loss"]) for row in state["history"])
