"""`pip install .` from the source tree, offline (Debian's meson-python, --no-build-isolation
--no-index), into a fresh venv made with --system-site-packages; then, from another folder,
`import shadowsync` (the installed copy), train on a tiny generated data set, predict, and run the
installed `shadowsync` command. `pip wheel .` likewise makes a wheel holding the extension.

Usage: pip_install_check.py SOURCE_ROOT PIP_BUILD_DIR
PIP_BUILD_DIR is meson-python's build folder, kept between runs so that a rerun recompiles only
what changed (the first run compiles the library once more)."""

import glob
import os
import subprocess
import sys
import tempfile
import zipfile

source, builddir = sys.argv[1], os.path.abspath(sys.argv[2])

INSIDE = r"""
import os, sys, numpy as np, shadowsync
here = os.path.dirname(shadowsync.__file__)
assert here.startswith(sys.prefix), ("not the installed package", here, sys.prefix)
shadowsync.generate("tiny.tsv", rows=3000, seed=3)
model = shadowsync.train("tiny.tsv", model="tiny", sync="none", groups=1, threads_per_group=1, deterministic=True,
                         eval_fraction=0.2)
p = model.predict("tiny.tsv")
assert p.shape == (3000,) and p.dtype == np.float32 and 0 < p.min() <= p.max() < 1, p
metrics = model.evaluate("tiny.tsv")
assert metrics["examples"] == 3000 and 0.5 < metrics["auc"] <= 1, metrics
print("installed", here, "AUC", round(metrics["auc"], 3))
"""


def run(*args, **kwargs):
    print("+", " ".join(map(str, args)), flush=True)
    result = subprocess.run(list(map(str, args)), **kwargs)
    if result.returncode != 0:
        sys.exit(f"failed (exit status {result.returncode}): {args}\n{result.stdout or ''}{result.stderr or ''}")
    return result


env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
with tempfile.TemporaryDirectory(prefix="shadowsync-pip-") as tmp:
    venv = os.path.join(tmp, "venv")
    run("/usr/bin/python3", "-m", "venv", "--system-site-packages", venv, env=env)
    python = os.path.join(venv, "bin", "python3")
    settings = f"--config-settings=builddir={builddir}"
    run(python, "-m", "pip", "install", "--no-build-isolation", "--no-index", settings, source, env=env)

    elsewhere = os.path.join(tmp, "elsewhere")
    os.mkdir(elsewhere)
    out = run(python, "-c", INSIDE, cwd=elsewhere, env=env, capture_output=True, text=True)
    print(out.stdout, out.stderr)
    assert "installed " + venv in out.stdout, out.stdout
    # The command is installed into the venv too.
    version = run(os.path.join(venv, "bin", "shadowsync"), "--version", capture_output=True, text=True, env=env)
    assert version.stdout.strip() == "shadowsync 0.1.0", version.stdout

    wheels = os.path.join(tmp, "wheels")
    run(python, "-m", "pip", "wheel", "--no-build-isolation", "--no-index", "--no-deps", settings, "-w", wheels,
        source, env=env)
    [wheel] = glob.glob(os.path.join(wheels, "shadowsync-0.1.0-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for wanted in ("shadowsync/__init__.py", "shadowsync/_api.py", "shadowsync/_schema.py", "shadowsync/sklearn.py"):
        assert wanted in names, (wanted, names)
    assert any(n.startswith("shadowsync/_shadowsync") and n.endswith(".so") for n in names), names
    print("wheel", os.path.basename(wheel), len(names), "files")
print("pip install and pip wheel: ok")
