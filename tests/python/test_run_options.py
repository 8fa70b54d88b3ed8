"""Every option of `shadowsync train --help` is an option of shadowsync.train too (or refused
there as one of the command line only), read with the same check and the same message: a wrong
type or an out-of-range value raises ValueError/TypeError naming the keyword, worded as the CLI
words it for the flag."""
import math
import re
import subprocess

import pytest

import shadowsync
from conftest import cli, run_cli


# The options that state the data's columns: declared once for every command that reads text
# (src/cli/common_options.cpp, docs/data.md "Stating the columns"), not run options of the table.
COLUMN_OPTIONS = {"--header", "--label", "--numeric", "--categorical", "--multi-hot", "--ignore", "--hex-ids",
                  "--schema"}


def help_options():
    """(flag, value type as help shows it) for every run option of `shadowsync train --help`."""
    text = run_cli("train", "--help").stdout
    options = []
    for line in text.splitlines():
        match = re.match(r"^\s+(--[a-z][a-z0-9-]*)(?: (.*?))?(?:=\S+)?(?:\s{2,}.*)?$", line)
        if match and match.group(1) != "--help" and match.group(1) not in COLUMN_OPTIONS:
            options.append((match.group(1), (match.group(2) or "").strip()))
    return options


def _number(text):
    return float(text) if ("." in text or "e" in text) else int(text)


def wrong_values(kind):
    """Values of the wrong type and out of range for an option whose help shows `kind`."""
    if kind == "":  # a flag
        return ["x", 1]
    if kind.startswith("FILE"):
        return []
    if kind in ("TEXT",):
        return [5, 1.5]
    if kind == "BYTE":
        return ["ab", "-", 5]
    values = ["x"] if not kind.startswith("auto|") else ["many"]
    if kind.startswith(("INT", "auto|INT")):
        values.append(1.5)
        values.append(True)
    interval = re.search(r"([\[(])(\S+), (\S+)([\])])", kind)
    if interval:
        low, high = _number(interval.group(2)), _number(interval.group(3))
        values.append(low if interval.group(1) == "(" else (low - 1 if isinstance(low, int) else low - 0.05))
        values.append(high if interval.group(4) == ")" else (high + 1 if isinstance(high, int) else high * 2))
    bound = re.search(r"(>=?) (\S+)$", kind)
    if bound:
        low = _number(bound.group(2))
        values.append(low if bound.group(1) == ">" else low - 1)
        values.append(math.nan)
    if re.fullmatch(r"[a-z]+(\|[a-z]+)+", kind):  # choices
        values = ["x", 5]
    return values


@pytest.fixture(scope="module")
def options():
    found = help_options()
    assert len(found) > 40, found
    return found


def test_every_cli_option_is_a_python_keyword_or_refused_as_cli_only(options):
    python_names = set(shadowsync.TRAIN_OPTIONS) | {"data", "eval_data"}
    table = {o["name"]: o for o in shadowsync.RUN_OPTIONS}
    # The options that state the columns are keywords of train() and Dataset, not run options.
    assert {flag[2:].replace("-", "_") for flag in COLUMN_OPTIONS} == set(shadowsync.SCHEMA_OPTIONS)
    assert "--label NAME" in run_cli("train", "--help").stdout
    for flag, _ in options:
        name = flag[2:].replace("-", "_")
        assert name in table, f"{flag} is not in the run option table"
        offered = "python" in table[name]["front_ends"]
        assert offered == (name in python_names), name
    # The table's command-line options are exactly the help's.
    cli_names = {o["name"] for o in shadowsync.RUN_OPTIONS if {"cli", "mpi"} & set(o["front_ends"])}
    assert cli_names == {flag[2:].replace("-", "_") for flag, _ in options}


def test_a_wrong_value_of_every_option_raises_naming_it(options, data_dir):
    data = str(data_dir / "train.bin")
    tried = 0
    wrong = []  # every failure, not only the first
    for flag, kind in options:
        name = flag[2:].replace("-", "_")
        if name == "data":
            with pytest.raises(TypeError, match="data"):
                shadowsync.train(5)
            tried += 1
            continue
        values = wrong_values(kind)
        assert values, f"{flag} {kind!r}: no wrong value to try"
        for value in values:
            extra = {} if name == "model" else {"model": "tiny", "max_examples": 64}
            tried += 1
            try:
                shadowsync.train(data, **extra, **{name: value})
            except (ValueError, TypeError) as e:
                if name not in str(e):
                    wrong.append(f"{name}={value!r}: {type(e).__name__}: {e}")
                continue
            except Exception as e:  # noqa: BLE001 - any other failure is a wrong answer too
                wrong.append(f"{name}={value!r}: {type(e).__name__}: {e}")
                continue
            wrong.append(f"{name}={value!r}: accepted")
    assert not wrong, "\n".join(wrong)
    assert tried > 100


def test_the_cli_and_python_say_the_same_for_the_same_wrong_value(options, data_dir):
    """One message: the CLI's with --name, Python's with name=."""
    data = str(data_dir / "train.bin")
    table = {o["name"]: o for o in shadowsync.RUN_OPTIONS}
    compared = 0
    for flag, kind in options:
        name = flag[2:].replace("-", "_")
        if "python" not in table[name]["front_ends"] or kind in ("", "TEXT") or kind.startswith("FILE"):
            continue
        for value in wrong_values(kind):
            # Values the command line writes as Python does: text, integers, finite numbers where
            # numbers are expected (a command line has no bool, and 1.5 there is text).
            comparable = (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)
                                                     and (kind.startswith(("INT", "auto|", "NUMBER"))))
                          or (isinstance(value, float) and math.isfinite(value) and kind.startswith("NUMBER")))
            if not comparable:
                continue
            given = str(value)
            cli_run = subprocess.run([cli(), "train", "--data", data, "--model", "tiny", flag, given],
                                     capture_output=True, text=True)
            assert cli_run.returncode == 2, (flag, given, cli_run.stderr)
            cli_message = cli_run.stderr.strip().removeprefix("shadowsync: error: ")
            with pytest.raises(ValueError) as caught:
                shadowsync.train(data, model="tiny", **{name: value})
            assert str(caught.value).replace(f"{name}=", flag) == cli_message, (flag, given)
            compared += 1
    assert compared > 30


def test_schema_keywords_of_train_say_what_the_cli_says(tmp_path):
    """train(path, label=..., ...) states the columns as `shadowsync train --label ...` does: the
    same rule (SchemaRequest) and message, keywords spelled name=."""
    path = tmp_path / "log.tsv"
    path.write_text("".join(f"{i % 2}\tu{i % 7}\t{i}\ta,b\n" for i in range(200)))
    cases = [
        (["--label", "0", "--categorical", "1", "--numeric", "2"],
         dict(label=0, categorical=[1], numeric=[2])),
        (["--label", "0", "--categorical", "1", "--numeric", "2", "--multi-hot", "3:comma", "--ignore", "3"],
         dict(label=0, categorical=[1], numeric=[2], multi_hot={3: ","}, ignore=[3])),
        (["--label", "0", "--categorical", "1", "--numeric", "2:cube", "--multi-hot", "3:comma"],
         dict(label=0, categorical=[1], numeric={2: "cube"}, multi_hot={3: ","})),
    ]
    for flags, keywords in cases:
        cli_run = subprocess.run([cli(), "train", "--data", str(path), "--model", "tiny", *flags],
                                 capture_output=True, text=True)
        assert cli_run.returncode != 0, flags
        cli_message = cli_run.stderr.strip().splitlines()[-1].removeprefix("shadowsync: error: ")
        with pytest.raises(ValueError) as caught:
            shadowsync.train(path, model="tiny", **keywords)
        python_message = str(caught.value)
        for name in ("label", "numeric", "categorical", "multi_hot", "ignore"):
            python_message = python_message.replace(f"{name}=", f"--{name.replace('_', '-')}")
        assert python_message == cli_message, flags
    with pytest.raises(ValueError, match=r"label=, categorical=: apply when data is a path"):
        shadowsync.train(shadowsync.Dataset(path, label=0, categorical=[1], numeric=[2], multi_hot=[3]),
                         label=0, categorical=[1])


def test_cli_only_options_say_so(data_dir):
    for name in ("metrics", "quiet", "host_sync_timeout_s", "host_alpha"):
        with pytest.raises(TypeError, match=rf"unexpected keyword argument '{name}'.*command line"):
            shadowsync.train(data_dir / "train.bin", model="tiny", **{name: 1})


def test_delimiter_reads_csv_like_the_cli(data_dir, tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text((data_dir / "train.tsv").read_text().replace("\t", ","))
    assert len(shadowsync.Dataset(csv, delimiter=",")) == len(shadowsync.Dataset(data_dir / "train.tsv"))
    model = shadowsync.train(csv, delimiter=",", model="tiny", sync="none", groups=1, threads_per_group=1,
                             max_examples=500, eval_fraction=0)
    assert model.examples_trained > 0


def test_the_docstring_lists_every_keyword():
    for name in shadowsync.TRAIN_OPTIONS:
        assert f"      {name}=" in shadowsync.train.__doc__, name


def test_pacing_is_said_as_the_cli_says_it_with_keywords(data_dir, capfd):
    """One core per group: rounds paced by training progress, said in the engine's words."""
    with pytest.warns(RuntimeWarning, match="synthetic, not this machine"):
        shadowsync.train(data_dir / "train.bin", model="tiny", sync="s-ma", topology="package:2 core:1 pu:1",
                         max_examples=2000, eval_fraction=0, verbose=True)
    err = capfd.readouterr().err
    assert ("shadow sync: no spare processing unit for the sync thread, rounds paced by training progress: one per 4 "
            "iterations of each group (sync_round_iterations=; sync_interval_ms= 0 runs them back to back)\n") in err


def test_data_options_with_a_dataset_are_refused_not_ignored(data_dir):
    data = shadowsync.Dataset(data_dir / "train.bin")
    with pytest.raises(ValueError, match=r"^hash_salt=: apply when data is a path"):
        shadowsync.train(data, model="tiny", hash_salt=3)


@pytest.mark.parametrize("rows", [1, 2**30 + 1, "x", 1.5])
def test_rows_per_table_of_a_dataset_has_trains_message(data_dir, rows):
    message = re.escape(f"rows_per_table= expects an integer in [2, 1073741824], got {rows!r}")
    with pytest.raises(ValueError, match=f"^{message}$"):
        shadowsync.Dataset(data_dir / "train.tsv", rows_per_table=rows)
    with pytest.raises(ValueError, match=f"^{message}$"):
        shadowsync.train(data_dir / "train.tsv", rows_per_table=rows)
