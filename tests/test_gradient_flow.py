"""`char_rnn gradient-flow`: the gradient norm of the last step's loss per input step."""

import dataclasses
import math

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, call_cli
from week3_rnn import char_rnn
from week3_rnn.char_model import CharRNN
from week3_rnn.char_rnn_verbs import build_parser
from week3_rnn.gradient_flow import gradient_norms, run, sample_windows
from common.outputs import is_own_png


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory, corpus, test_config):
    """A test-preset run with the vanilla RNN (the session's trained_run is an LSTM)."""
    run_dir = str(tmp_path_factory.mktemp("rnn") / "rnn")
    char_rnn.train(dataclasses.replace(test_config, cell="rnn"), run_dir, corpus, verbose=0)
    return run_dir


def test_windows_are_slices_of_the_text_with_the_next_character_as_target():
    ids = np.arange(100, dtype=np.int32)
    windows = sample_windows(ids, distance=9, num=20, seed=3)
    assert windows.shape == (20, 11)
    for window in windows:  # consecutive ids: a contiguous slice
        np.testing.assert_array_equal(window, np.arange(window[0], window[0] + 11))
    assert len({int(w[0]) for w in windows}) == 20  # distinct starts when there are enough
    np.testing.assert_array_equal(windows, sample_windows(ids, 9, 20, seed=3))


def test_untrained_rnn_with_small_recurrent_weights_forgets_geometrically():
    """||dL_T/de_t|| <= ||W_xh|| ||W_hh||^(T-t) ||W_head|| sqrt(2), for every window.

    dL_T/dh_T = W_head (softmax - one_hot) has norm <= ||W_head|| sqrt(2), and
    each step back multiplies by W_hh^T diag(1 - h^2), of norm <= ||W_hh||.
    With W_hh = 0.5 * an orthogonal matrix (norm 0.5) the bound halves per step.
    """
    import keras

    keras.utils.set_random_seed(0)
    model = CharRNN(20, cell="rnn", num_layers=1, units=32, embedding_dim=16)
    model.build()
    rnn = model.recurrent_layers[0]
    kernel, recurrent, bias = rnn.get_weights()
    rnn.set_weights([kernel, 0.5 * recurrent, bias])  # the initializer's is orthogonal
    windows = np.random.default_rng(1).integers(0, 20, size=(40, 32)).astype(np.int32)
    norms = gradient_norms(model, windows)  # (40, 31): distances 0..30
    assert norms.shape == (40, 31)
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    head = model.head.get_weights()[0]
    bound = (np.linalg.norm(kernel, 2) * np.linalg.norm(head, 2) * math.sqrt(2)
             * 0.5 ** np.arange(31))
    assert np.all(norms <= bound * (1 + 1e-4))
    mean = norms.mean(axis=0)
    # Column 0 is the predicting step itself: large; 20 steps back it has all but vanished.
    assert mean[0] > 0.02 * bound[0]
    assert mean[20] < 1e-3 * mean[0]


def test_the_verb_writes_one_png_with_a_line_per_run(trained_run, rnn_run, corpus_file,
                                                     tmp_path, capsys):
    out = tmp_path / "flow.png"
    args = build_parser().parse_args([
        "gradient-flow", "--run_dir", rnn_run, "--run_dir", trained_run[0], "--text",
        str(corpus_file), "--distance", "60", "--num", "12", "--out", str(out)])
    curves = run(args, lambda: (corpus_file.read_text(encoding="utf-8"), str(corpus_file)))
    assert list(curves) == ["rnn (rnn)", "lstm (run)"]
    for norms in curves.values():
        assert norms.shape == (12, 61)
        assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    assert is_own_png(out)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("rnn (rnn): mean ||dL_T/de_t|| d=0: ")
    assert "norm(1)/norm(50) = " in printed[1]
    assert printed[-1] == f"wrote {out}"
    # Through the command line too, over its own PNG: the same windows (same
    # seed), so the same numbers.
    from common.cli import run_cli

    assert run_cli(char_rnn.main, [
        "gradient-flow", "--run_dir", rnn_run, "--run_dir", trained_run[0], "--text",
        str(corpus_file), "--distance", "60", "--num", "12", "--out", str(out)]) is None
    captured = capsys.readouterr()
    assert captured.out.splitlines() == printed and captured.err == ""
    assert is_own_png(out)


@pytest.mark.parametrize("case, fragment", [
    ("not_png", "not a PNG written by this project"),
    ("inside_run", "lies inside it"),
    ("too_long", "--distance 1000 needs at least 1002"),
    ("not_a_run", "not a run directory"),
    ("foreign_text", "outside the vocabulary of lstm (run)"),
])
def test_bad_input_is_one_error_line_and_nothing_is_written(trained_run, corpus_file,
                                                            tmp_path, capsys, case, fragment):
    out = tmp_path / "flow.png"
    run_dir, text, distance = trained_run[0], corpus_file, "20"
    if case == "not_png":
        out.write_text("my notes", encoding="utf-8")
    elif case == "inside_run":
        out = tmp_path / "copy" / "flow.png"
        run_dir = str(tmp_path / "copy")
        import shutil

        shutil.copytree(trained_run[0], run_dir)
    elif case == "too_long":
        distance = "1000"
        text = tmp_path / "short.txt"
        text.write_text("the cat sat on the mat.\n" * 20, encoding="utf-8")
    elif case == "not_a_run":
        run_dir = str(tmp_path / "nothing")
        (tmp_path / "nothing").mkdir()
    elif case == "foreign_text":
        text = tmp_path / "foreign.txt"
        text.write_text("ZZZ XYZ QQQ\n" * 50, encoding="utf-8")
    status, _, stderr = call_cli(char_rnn.main, [
        "gradient-flow", "--run_dir", run_dir, "--text", str(text), "--distance", distance,
        "--out", str(out)], capsys)
    assert_one_line_error(status, stderr, fragment)
    if case == "not_png":
        assert out.read_text(encoding="utf-8") == "my notes"
    else:
        assert not out.exists()


def test_every_flag_has_help():
    parser = build_parser()
    verb = parser._subparsers._group_actions[0].choices["gradient-flow"]
    for action in verb._actions:
        if action.dest != "help":
            assert action.help, action.dest
