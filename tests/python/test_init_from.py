"""shadowsync.train(init_from=): a run started from a Model or a checkpoint path continues it
exactly (day 1 then day 2 equals both days in one deterministic run), counts examples anew,
records the chain of checkpoints (Model.init_chain), takes the model and hashing from the
checkpoint, refuses what differs; the checkpoint with a chain keeps the format version older
readers accept and is read by the CLI."""
import json
import re

import numpy as np
import pytest

import shadowsync
from conftest import run_cli

# One group, one worker, no sync: bit-identical runs.
DET = dict(sync="none", groups=1, threads_per_group=1, batch=128, seed=7, deterministic=True, eval_fraction=0)
DAY = 2560  # 20 batches: day 2's first batch is the joint run's 21st


def days(arrays, rows_per_table=256):
    numeric, categorical, labels = arrays
    return [shadowsync.Dataset.from_arrays(numeric[a:b], categorical[a:b], labels[a:b], rows_per_table=rows_per_table)
            for a, b in ((0, DAY), (DAY, 2 * DAY), (0, 2 * DAY), (2 * DAY, 3 * DAY))]


def test_day_two_from_day_one_equals_both_days_and_counts_anew(arrays, tmp_path):
    day1, day2, both, day3 = days(arrays)
    first = shadowsync.train(day1, model="tiny", **DET)
    assert first.init_chain == []
    continued = shadowsync.train(day2, init_from=first, **DET)  # model: the checkpoint's (tiny)
    joint = shadowsync.train(both, model="tiny", **DET)
    assert np.array_equal(continued.predict_logits(day2), joint.predict_logits(day2))
    assert continued.examples_trained == DAY
    assert continued.result["final"]["config"]["init_from"]
    # A checkpoint path gives the same model.
    path = tmp_path / "day1.ckpt"
    first.save(path)
    from_path = shadowsync.train(day2, init_from=path, **DET)
    assert np.array_equal(from_path.predict_logits(day2), continued.predict_logits(day2))
    chain = from_path.init_chain
    assert [set(o) for o in chain] == [{"path", "examples_trained", "checksum", "data_fingerprint"}]
    assert chain[0]["path"] == str(path) and chain[0]["examples_trained"] == DAY
    assert re.fullmatch("[0-9a-f]{16}", chain[0]["checksum"])
    assert continued.init_chain[0]["checksum"] == chain[0]["checksum"]  # the same contents
    # The chain is carried over and appended.
    third = shadowsync.train(day3, init_from=from_path, **DET)
    assert len(third.init_chain) == 2 and third.init_chain[0] == chain[0]
    assert third.init_chain[1]["examples_trained"] == DAY
    assert third.init_chain[1]["checksum"] != chain[0]["checksum"]


def test_text_data_is_read_with_the_checkpoints_hashing(data_dir):
    first = shadowsync.train(data_dir / "train.tsv", model="tiny", rows_per_table=512, **DET)
    continued = shadowsync.train(data_dir / "train.tsv", init_from=first, **DET)
    assert continued.rows_per_table == first.rows_per_table == [512] * 26
    assert continued.examples_trained == first.examples_trained


def test_refusals_name_what_differs(arrays, tmp_path):
    day1, day2, _, _ = days(arrays)
    first = shadowsync.train(day1, model="tiny", **DET)
    path = tmp_path / "day1.ckpt"
    first.save(path)
    other_tables = days(arrays, rows_per_table=128)[1]
    with pytest.raises(ValueError, match=re.escape(f"init_from= '{path}': checkpoint was written with other hashing "
                                                   "parameters (rows per table or salt differ from this run's "
                                                   "rows_per_table= / hash_salt=: checkpoint vs this run: "
                                                   "hashing.rows[0] 256 vs 128)")):
        shadowsync.train(other_tables, init_from=path, **DET)
    with pytest.raises(ValueError, match=re.escape(f"init_from= '{path}': checkpoint is for another model "
                                                   "(checkpoint vs this run's model=: bottom [8,4] vs [64,16]")):
        shadowsync.train(day2, init_from=path, model="small", **DET)
    with pytest.raises(ValueError, match="init_from= and resume= exclude each other"):
        shadowsync.train(day2, init_from=path, resume=path, **DET)
    with pytest.raises(ValueError, match=re.escape(f"checkpoint '{path}' is the same file as init_from '{path}'")):
        shadowsync.train(day2, init_from=path, checkpoint=path, **DET)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(OSError, match=re.escape(f"init_from=: checkpoint '{text}': not a shadowsync checkpoint")):
        shadowsync.train(day2, init_from=text, **DET)
    with pytest.raises(TypeError, match="init_from= expects a shadowsync.Model or a checkpoint path, got int"):
        shadowsync.train(day2, init_from=3, **DET)


def test_a_checkpoint_with_a_chain_keeps_the_format_older_readers_accept(arrays, data_dir, tmp_path):
    day1, day2, _, _ = days(arrays)
    first = shadowsync.train(day1, model="tiny", **DET)
    continued = shadowsync.train(day2, init_from=first, checkpoint=tmp_path / "day2.ckpt", **DET)
    data = continued.to_bytes()
    # Format version 2, as before chains were recorded (readers of versions 1..2 take it; the
    # chain is one more header field, which they do not read).
    assert data[:8] == b"SSYNCCKP" and int.from_bytes(data[8:12], "little") == 2
    # The CLI reads it, prints the chain, and its resume finds the run finished.
    saved = tmp_path / "day2.ckpt"
    out = run_cli("eval", "--checkpoint", saved, "--data", data_dir / "train.tsv", "--json").stdout
    assert json.loads(out)["init_chain"] == continued.init_chain
    assert shadowsync.load(saved).init_chain == continued.init_chain
    # Pickling keeps it.
    import pickle
    assert pickle.loads(pickle.dumps(continued)).init_chain == continued.init_chain
