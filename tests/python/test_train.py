"""shadowsync.train / load / Model: same results as the CLI, checkpoints both ways, callbacks,
errors as Python exceptions, the GIL released, Ctrl-C stopping a run with a checkpoint."""
import _thread
import json
import pickle
import threading
import time

import numpy as np
import pytest

import shadowsync
from conftest import run_cli

DETERMINISTIC = dict(model="tiny", sync="fr-ma", groups=2, threads_per_group=1, batch=64, seed=7,
                     deterministic=True, oversubscribe=True)


def cli_flags(options):
    flags = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        else:
            flags += [flag, str(value)]
    return flags


def test_python_and_cli_give_the_same_ne(data_dir, tmp_path):
    events = []
    model = shadowsync.train(data_dir / "train.bin", callback=events.append, **DETERMINISTIC)
    final = events[-1]
    assert final["event"] == "final"
    metrics = tmp_path / "cli.jsonl"
    run_cli("train", "--data", data_dir / "train.bin", "--metrics", metrics, "--quiet", *cli_flags(DETERMINISTIC))
    cli_final = [json.loads(line) for line in metrics.read_text().splitlines()][-1]
    assert cli_final["event"] == "final"
    assert set(final) == set(cli_final)  # the same keys as the --metrics lines
    assert final["eval"]["ne"] == pytest.approx(cli_final["eval"]["ne"], abs=1e-6)
    assert final["examples"] == cli_final["examples"] == model.examples_trained


def test_cli_checkpoint_loads_in_python_and_python_checkpoint_in_cli(data_dir, tmp_path):
    cli_ckpt = tmp_path / "cli.ckpt"
    run_cli("train", "--data", data_dir / "train.bin", "--checkpoint", cli_ckpt, "--quiet", *cli_flags(DETERMINISTIC))
    cli_eval = json.loads(run_cli("eval", "--checkpoint", cli_ckpt, "--data", data_dir / "train.bin", "--json").stdout)
    loaded = shadowsync.load(cli_ckpt)
    ours = loaded.evaluate(data_dir / "train.bin")
    for key in ("ne", "logloss", "auc", "calibration"):
        assert ours[key] == pytest.approx(cli_eval[key], abs=1e-9), key

    model = shadowsync.train(data_dir / "train.bin", **DETERMINISTIC)
    saved = tmp_path / "py.ckpt"
    model.save(saved)
    assert saved.read_bytes() == model.to_bytes()
    from_cli = json.loads(run_cli("eval", "--checkpoint", saved, "--data", data_dir / "train.bin", "--json").stdout)
    assert from_cli["ne"] == pytest.approx(model.evaluate(data_dir / "train.bin")["ne"], abs=1e-9)
    # And the CLI resumes it: the run is finished, so nothing is left to do.
    done = run_cli("train", "--data", data_dir / "train.bin", "--resume", saved, "--quiet", *cli_flags(DETERMINISTIC))
    assert "nothing left to do" in done.stderr


def test_predict_and_pickle(data_dir, arrays):
    numeric, categorical, labels = arrays
    data = shadowsync.Dataset.from_arrays(numeric, categorical, labels)
    model = shadowsync.train(data, model="tiny", sync="none", groups=1, threads_per_group=1, eval_fraction=0.0)
    p = model.predict(data)
    assert p.shape == (len(labels),) and p.dtype == np.float32
    assert np.all((p > 0) & (p < 1))
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(data), p)
    assert model.evaluate(data)["auc"] > 0.6


def test_nothing_printed_unless_verbose(data_dir, capfd):
    shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1, verbose=True)
    out, err = capfd.readouterr()
    assert "final at" in err and "NE" in err


@pytest.mark.parametrize("options, message", [
    (dict(batch=0), r"^batch= expects an integer in \[1, 1048576\], got 0$"),
    (dict(sync="bogus"), r"^sync=: unknown mode 'bogus'"),
    (dict(groups="many"), r"^groups= expects 'auto' or an integer"),
    (dict(sync="s-ma", deterministic=True), r"deterministic="),
    (dict(lr="fast"), r"^lr= expects a number > 0, got 'fast'$"),
    (dict(precision="fp16"), r'^precision=: unknown precision "fp16"'),
    (dict(embedding_precision="fp16"), r"^embedding_precision= expects fp32 or bf16, got 'fp16'$"),
    (dict(embedding_rounding="up"), r"^embedding_rounding= expects nearest or stochastic, got 'up'$"),
    (dict(sync_optimizer_state="max"), r"^sync_optimizer_state= expects 'none' or 'sum' or 'mean', got 'max'$"),
    (dict(optimizer="sgd", sync_optimizer_state="sum"),
     r"^sync_optimizer_state= sum: the sgd dense optimizer keeps no optimizer state to synchronize "
     r"\(use optimizer= adagrad, or sync_optimizer_state= none\)$"),
])
def test_bad_options_raise_value_error_with_keyword_spelling(data_dir, options, message):
    with pytest.raises(ValueError, match=message):
        shadowsync.train(data_dir / "train.bin", model="tiny", **options)


def test_unknown_option_is_type_error(data_dir):
    with pytest.raises(TypeError, match="unexpected keyword argument 'bacth'"):
        shadowsync.train(data_dir / "train.bin", bacth=3)


def test_file_errors_are_os_errors(data_dir, tmp_path):
    with pytest.raises(OSError):
        shadowsync.train(data_dir / "train.bin", model="tiny", resume=str(tmp_path / "missing.ckpt"))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(OSError, match="bad.ckpt"):
        shadowsync.load(bad)


def test_divergence_is_runtime_error(data_dir):
    with pytest.raises(RuntimeError, match="diverged"):
        shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1,
                         optimizer="sgd", lr=1e30, emb_lr=1e30)


def test_a_loss_that_explodes_is_runtime_error_naming_the_learning_rates(data_dir, tmp_path):
    # lr=1e6 keeps every loss finite (a model with NE 4e11 came back before).
    checkpoint = tmp_path / "x.ckpt"
    with pytest.raises(RuntimeError, match=r"training diverged at about \d+ examples: the log loss was .* "
                                           r"lower lr= \(now 1e\+06\) / emb_lr= \(now 0.05\)"):
        shadowsync.train(data_dir / "train.bin", model="tiny", lr=1e6, groups=1, threads_per_group=1,
                         checkpoint=checkpoint)
    assert not checkpoint.exists()


def test_eval_fraction_gives_a_curve_of_evaluations(data_dir):
    events = []
    shadowsync.train(data_dir / "train.bin", model="tiny", groups=1, threads_per_group=1, eval_fraction=0.1,
                     callback=events.append)
    evals = [e for e in events if e["event"] == "eval"]
    assert 6 <= len(evals) <= 8, [e["examples"] for e in evals]
    assert events[-1]["event"] == "final"
    # Without eval_fraction= the default split evaluates at the end only.
    events.clear()
    shadowsync.train(data_dir / "train.bin", model="tiny", groups=1, threads_per_group=1, callback=events.append)
    assert [e for e in events if e["event"] == "eval"] == []


def test_callback_exception_reaches_the_caller(data_dir):
    def callback(event):
        raise ZeroDivisionError("from the callback")
    with pytest.raises(ZeroDivisionError, match="from the callback"):
        shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1,
                         callback=callback)


def test_gil_released_while_training(data_dir):
    counter = [0]
    running = threading.Event()
    done = threading.Event()

    def count():
        running.set()
        while not done.is_set():
            counter[0] += 1

    worker = threading.Thread(target=count)
    worker.start()
    running.wait()
    seen = []

    def callback(event):
        if event["event"] == "progress":
            seen.append(counter[0])

    try:
        shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1,
                         epochs=200, max_examples=600000, callback=callback, progress_seconds=0.2)
    finally:
        done.set()
        worker.join()
    # The other thread kept counting between two reports of the run (it would stand still if the
    # GIL were held while training).
    assert len(seen) >= 2
    assert max(b - a for a, b in zip(seen, seen[1:])) > 1000


def test_keyboard_interrupt_stops_fit_with_a_loadable_checkpoint(data_dir, tmp_path):
    checkpoint = tmp_path / "interrupted.ckpt"
    started = threading.Event()

    def callback(event):
        started.set()

    timer = threading.Thread(target=lambda: (started.wait(), time.sleep(0.2), _thread.interrupt_main()))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        shadowsync.train(data_dir / "train.bin", model="tiny", sync="none", groups=1, threads_per_group=1,
                         epochs=100000, max_examples=50_000_000, checkpoint=str(checkpoint), callback=callback,
                         progress_seconds=0.1)
    timer.join()
    model = shadowsync.load(checkpoint)
    assert 0 < model.examples_trained < 50_000_000  # stopped early, by the interrupt
    assert 0 < model.evaluate(data_dir / "train.bin")["ne"] < 1.5


def test_resume_continues_a_run_stopped_by_max_examples(data_dir, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    first = shadowsync.train(data_dir / "train.bin", checkpoint=str(checkpoint), max_examples=1024, **DETERMINISTIC)
    assert first.result["stopped_early"]
    resumed = shadowsync.train(data_dir / "train.bin", resume=str(checkpoint), **DETERMINISTIC)
    whole = shadowsync.train(data_dir / "train.bin", **DETERMINISTIC)
    assert resumed.examples_trained == whole.examples_trained
    # deterministic: stopping and resuming gives the run that never stopped
    assert resumed.result["final"]["eval"]["ne"] == pytest.approx(whole.result["final"]["eval"]["ne"], abs=1e-9)


def test_several_caches_train_like_one_cache_of_their_rows(data_dir, tmp_path):
    from test_dataset import split_cache
    a, b = split_cache(data_dir, tmp_path, 2501)  # the boundary at no multiple of the batch
    whole = shadowsync.train(data_dir / "train.bin", **DETERMINISTIC)
    several = shadowsync.train([a, b], **DETERMINISTIC)
    assert several.result["final"]["eval"]["ne"] == whole.result["final"]["eval"]["ne"]
    assert several.examples_trained == whole.examples_trained
    np.testing.assert_array_equal(several.predict([a, b]), whole.predict(data_dir / "train.bin"))
    assert several.evaluate([a, b]) == whole.evaluate(data_dir / "train.bin")
    # A checkpoint over one of the inputs is refused before anything is written.
    before = b.read_bytes()
    with pytest.raises(ValueError, match="checkpoint"):
        shadowsync.train([a, b], checkpoint=b, **DETERMINISTIC)
    assert b.read_bytes() == before


def test_tables_sized_from_stats_train_evaluate_and_predict_from_paths(data_dir, tmp_path):
    stats = tmp_path / "stats.json"
    stats.write_text(run_cli("stats", "--json", "--rows-per-table", 4096, data_dir / "train.tsv").stdout)
    sized = tmp_path / "sized.bin"
    run_cli("convert", "--table-rows-from", stats, data_dir / "train.tsv", sized)
    model = shadowsync.train(sized, eval_data=data_dir / "train.tsv", model="tiny", sync="none", groups=1,
                             threads_per_group=1)
    assert len(set(model.rows_per_table)) > 1  # tables of their own sizes
    # A path is read with the model's own table sizes, TSV or cache alike.
    assert model.evaluate(data_dir / "train.tsv") == model.evaluate(sized)
    np.testing.assert_array_equal(model.predict(data_dir / "train.tsv"), model.predict(sized))
    assert shadowsync.Dataset(data_dir / "train.tsv", rows_per_table=model.rows_per_table).rows_per_table == \
        model.rows_per_table


def test_embedding_precision_reaches_the_engine(data_dir, tmp_path):
    """embedding_precision="bf16" trains bf16 rows: every table value is a BF16 (low 16 bits zero;
    fp32 rows' are not), the model saves and the CLI evaluates it as Python does."""
    bf16 = shadowsync.train(data_dir / "train.bin", embedding_precision="bf16", **DETERMINISTIC)
    fp32 = shadowsync.train(data_dir / "train.bin", **DETERMINISTIC)

    def low_bits(model):
        tables = [a for name, a in model.named_parameters().items() if name.startswith("embedding.")]
        assert tables and all(a.dtype == np.float32 for a in tables)
        return np.concatenate([a.ravel().view(np.uint32) & 0xFFFF for a in tables])

    assert not low_bits(bf16).any()
    assert low_bits(fp32).any()
    saved = tmp_path / "bf16.ckpt"
    bf16.save(saved)
    from_cli = json.loads(run_cli("eval", "--checkpoint", saved, "--data", data_dir / "train.bin", "--json").stdout)
    assert from_cli["ne"] == pytest.approx(bf16.evaluate(data_dir / "train.bin")["ne"], abs=1e-9)
    assert abs(from_cli["ne"] - fp32.evaluate(data_dir / "train.bin")["ne"]) < 0.02
    # resuming it as fp32 rows is refused, naming the keyword
    with pytest.raises(OSError, match=r"checkpoint holds bf16 embedding rows, this run asks for fp32 "
                                         r"\(use the same embedding_precision= as the checkpoint: bf16\)"):
        shadowsync.train(data_dir / "train.bin", resume=saved, **DETERMINISTIC)


def test_sync_optimizer_state_reaches_the_engine(data_dir, tmp_path):
    """sync_optimizer_state="sum" trains another model than the default (none, the same model as
    none= given), is recorded in the checkpoint, and resuming with another setting is refused
    naming the keyword."""
    summed = shadowsync.train(data_dir / "train.bin", sync_optimizer_state="sum", **DETERMINISTIC)
    default = shadowsync.train(data_dir / "train.bin", **DETERMINISTIC)
    none = shadowsync.train(data_dir / "train.bin", sync_optimizer_state="none", **DETERMINISTIC)
    dense = [name for name in default.named_parameters() if not name.startswith("embedding.")]
    assert all(np.array_equal(default.named_parameters()[k], none.named_parameters()[k]) for k in dense)
    assert not all(np.array_equal(default.named_parameters()[k], summed.named_parameters()[k]) for k in dense)
    saved = tmp_path / "sum.ckpt"
    summed.save(saved)
    with pytest.raises(OSError, match=r"checkpoint was trained with sync_optimizer_state= sum, this run asks for "
                                         r"none \(resume with the same sync_optimizer_state=: sum\)"):
        shadowsync.train(data_dir / "train.bin", resume=saved, **DETERMINISTIC)


def test_sync_warmup_reaches_the_engine(data_dir, capsys):
    """sync_warmup= is the shadow modes' shared-replica warm-up: verbose runs say where it ends, the
    final metrics line carries that point; a foreground mode refuses one, naming the keyword."""
    events = []
    shadowsync.train(data_dir / "train.bin", model="tiny", sync="s-ma", groups=2, threads_per_group=1,
                     oversubscribe=True, sync_warmup=0.3, callback=events.append, verbose=True)
    final = events[-1]
    assert final["event"] == "final"
    assert final["sync_warmup_examples"] == round(0.3 * final["examples"])
    assert final["sync_rounds"] > 0
    err = capsys.readouterr().err
    assert (f"the groups train one shared replica for the first {final['sync_warmup_examples']} examples "
            "(sync_warmup= 0.3)") in err, err
    with pytest.raises(ValueError, match=r"^sync_warmup= applies to the shadow modes"):
        shadowsync.train(data_dir / "train.bin", model="tiny", sync="fr-ma", sync_warmup=0.2)
