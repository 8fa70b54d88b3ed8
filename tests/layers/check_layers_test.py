#!/usr/bin/env python3
"""Self-test of scripts/check-layers: runs it on small fake trees written to a temporary folder,
one clean (exit 0, nothing reported) and one with a violation of each kind (each reported as
`file:line: rule: text`, exit 1), so that the layering check is known to be able to fail.

Usage: check_layers_test.py PATH/TO/scripts/check-layers   (meson passes the path)
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

CHECKER = None  # set from argv in __main__


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))


def run_checker(root, *args):
    result = subprocess.run([sys.executable, CHECKER, "--root", root, *args],
                            capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout, result.stderr


# A tree that keeps every rule, with the near misses the checker must not report.
CLEAN_TREE = {
    "include/shadowsync/core/error.hpp": """
        // Errors. Comments may name flags: --batch, and say "prints to stderr" or std::cout.
        #pragma once
        #include <string>
        namespace shadowsync { std::string field(const char* name); }
        """,
    "src/core/error.cpp": """
        #include "shadowsync/core/error.hpp"
        #include "core/checksum.hpp"
        /* block comment: fprintf(stderr, "--x") is fine here */
        namespace shadowsync {
        int big = 1'000'000;  // digit separators are not character literals
        char dash = '-';
        const char* text = "a - b -- 1, stdout and std::cout inside a string are not printing";
        int n = snprintf(nullptr, 0, "%d", 1);
        }
        """,
    "src/core/checksum.hpp": "#pragma once\n",
    "src/core/file_io.cpp": """
        #include <cstdio>
        void write_out() { std::fflush(stdout); }  // the documented exception: output to "-"
        """,
    "numa/include/shadowsync/numa/plan.hpp": """
        #pragma once
        #include "shadowsync/core/error.hpp"
        """,
    "numa/src/plan.cpp": """
        #include "shadowsync/numa/plan.hpp"
        #include "plan_util.hpp"
        """,
    "numa/src/plan_util.hpp": "#pragma once\n",
    "include/shadowsync/data/dataset.hpp": """
        #pragma once
        #include "shadowsync/numa/plan.hpp"
        """,
    "src/data/dataset.cpp": """
        #include "shadowsync/data/dataset.hpp"
        #include "shadowsync/core/error.hpp"
        auto e = shadowsync::field("eval_fraction");
        """,
    "src/model/model.cpp": """
        #include "shadowsync/data/dataset.hpp"
        """,
    "src/synthetic/gen.cpp": """
        #include "shadowsync/data/dataset.hpp"
        """,
    "src/train/trainer.cpp": """
        #include "shadowsync/data/dataset.hpp"
        #include "../model/model_io.hpp"
        #include "train/checkpoint.hpp"
        """,
    "src/model/model_io.hpp": "#pragma once\n",
    "src/train/checkpoint.hpp": "#pragma once\n",
    "src/cli/main.cpp": """
        #include <cstdio>
        #include <iostream>
        #include "shadowsync/train/trainer.hpp"
        #include "../data/dataset.cpp"
        int main() { std::cerr << "--batch must be positive\\n"; std::fprintf(stderr, "x"); }
        """,
    "include/shadowsync/train/trainer.hpp": """
        #pragma once
        #include "shadowsync/model/model.hpp"
        """,
    "include/shadowsync/model/model.hpp": "#pragma once\n",
}

# The clean tree plus one violation of each kind; the expected (file:line: rule) of each.
VIOLATIONS = {
    "src/data/reader.cpp": """
        #include "shadowsync/core/error.hpp"
        void f(int rows) {
          if (rows < 1) throw Error("--rows must be at least 1");
          // --rows in a comment is fine
        }
        """,
    "src/train/raw.cpp": """
        const char* usage = R"text(
        use --checkpoint to keep the model
        )text";
        """,
    "src/metrics/metrics.cpp": """
        #include <iostream>
        void report(double ne) {
          std::cout << ne;
        }
        """,
    "numa/src/warn.cpp": """
        #include <cstdio>
        void warn() { fprintf(stderr, "warning\\n"); }
        """,
    "include/shadowsync/sync/sync.hpp": """
        #pragma once
        inline void say() { puts("hello"); }
        """,
    "src/core/upward.cpp": """
        #include "shadowsync/core/error.hpp"
        #include "shadowsync/train/trainer.hpp"
        """,
    "numa/src/numa_data.cpp": """
        #include "shadowsync/data/dataset.hpp"
        """,
    "src/data/sideways.cpp": """
        #include "shadowsync/model/model.hpp"
        """,
    "src/model/relative.cpp": """
        #include "../train/checkpoint.hpp"
        """,
    "src/sync/internal.cpp": """
        #include "train/checkpoint.hpp"
        """,
    "src/metrics/missing.cpp": """
        #include "no_such_header.hpp"
        """,
    "src/cli/other_front_end.cpp": """
        #include "../../python/binding.hpp"
        """,
    "python/binding.hpp": "#pragma once\n",
}
EXPECTED = [
    "src/data/reader.cpp:3: no-flag:",
    "src/train/raw.cpp:1: no-flag:",
    "src/metrics/metrics.cpp:3: no-print: std::cout",
    "numa/src/warn.cpp:2: no-print: fprintf, stderr",
    "include/shadowsync/sync/sync.hpp:2: no-print: puts",
    'src/core/upward.cpp:2: layer: #include "shadowsync/train/trainer.hpp": core (level 0) includes train',
    'numa/src/numa_data.cpp:1: layer: #include "shadowsync/data/dataset.hpp": numa (level 1) includes data',
    'src/data/sideways.cpp:1: layer: #include "shadowsync/model/model.hpp": data (level 2) includes model (level 2)',
    'src/model/relative.cpp:1: layer: #include "../train/checkpoint.hpp": model (level 2) includes train',
    'src/sync/internal.cpp:1: layer: #include "train/checkpoint.hpp": sync (level 2) includes train',
    'src/metrics/missing.cpp:1: layer: #include "no_such_header.hpp": cannot be resolved',
    'src/cli/other_front_end.cpp:1: layer: #include "../../python/binding.hpp": cli (level 4) includes python',
]


# The architecture page with the graph's markers around an out-of-date graph.
GRAPH_DOC = {
    "docs/architecture.md": """
        # Architecture
        Graph:
        <!-- check-layers --graph: begin (generated; do not edit) -->
        stale
        <!-- check-layers --graph: end -->
        More text.
        """,
}


class CheckLayersTest(unittest.TestCase):
    def test_clean_tree_passes(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, CLEAN_TREE)
            code, out, err = run_checker(root, "--strict")
            self.assertEqual(code, 0, out + err)
            self.assertNotIn(": no-flag:", out)
            self.assertNotIn(": no-print:", out)
            self.assertNotIn(": layer:", out)
            self.assertIn("0 violation(s)", out)

    # --strict: the fake violations sit in folders KNOWN_VIOLATIONS may excuse on the real tree.
    def test_each_kind_of_violation_is_reported(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, {**CLEAN_TREE, **VIOLATIONS})
            code, out, err = run_checker(root, "--strict")
            self.assertEqual(code, 1, out + err)
            lines = [l for l in out.splitlines() if ": no-flag:" in l or ": no-print:" in l or ": layer:" in l]
            for expected in EXPECTED:
                self.assertTrue(any(l.startswith(expected) for l in lines),
                                f"expected a line starting with {expected!r} in:\n{out}")
            self.assertEqual(len(lines), len(EXPECTED), out)
            self.assertIn(f"{len(EXPECTED)} violation(s)", err)

    def test_flag_report_names_the_literal(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, {**CLEAN_TREE, **VIOLATIONS})
            _, out, _ = run_checker(root, "--strict")
            self.assertIn('src/data/reader.cpp:3: no-flag: "--rows must be at least 1"', out)
            self.assertIn("src/train/raw.cpp:1: no-flag: \"use --checkpoint to keep the model\"", out)

    def test_known_violations_never_excuse_a_layer_violation(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, {**CLEAN_TREE, **VIOLATIONS})
            code, out, _ = run_checker(root)
            self.assertEqual(code, 1, out)
            self.assertIn('numa/src/numa_data.cpp:1: layer: #include "shadowsync/data/dataset.hpp": '
                          "numa (level 1) includes data (level 2); numa may include only core", out)
            self.assertIn('src/core/upward.cpp:2: layer: #include "shadowsync/train/trainer.hpp": '
                          "core (level 0) includes train (level 3); core may include no other module", out)
            self.assertIn("src/metrics/metrics.cpp:3: no-print: std::cout: std::cout << ne;", out)

    def test_graph_lists_edges_with_counts(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, {**CLEAN_TREE, **VIOLATIONS, **GRAPH_DOC})
            code, out, _ = run_checker(root, "--graph")
            self.assertEqual(code, 0, out)
            self.assertIn("\nnuma -> core: 1\n", out)
            self.assertIn("\ntrain -> data: 1\n", out)
            self.assertIn("\ntrain -> model: 2\n", out)  # trainer.hpp and ../model/model_io.hpp
            self.assertIn("\ncore -> train: 1   <- NOT ALLOWED\n", out)
            self.assertIn("\ndata -> model: 1   <- NOT ALLOWED\n", out)

    # --graph rewrites the block between the markers of docs/architecture.md (and nothing else);
    # --check-graph passes on the written graph and fails once an include changes it.
    def test_graph_is_written_into_the_architecture_page_and_checked(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, {**CLEAN_TREE, **GRAPH_DOC})
            code, _, err = run_checker(root, "--check-graph")
            self.assertEqual(code, 1, err)
            self.assertIn("docs/architecture.md: the module include graph there is not the tree's", err)
            code, out, err = run_checker(root, "--graph")
            self.assertEqual(code, 0, out + err)
            self.assertIn("\nmodel -> data: 1\n", out)
            with open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8") as f:
                page = f.read()
            self.assertEqual(page, textwrap.dedent(GRAPH_DOC["docs/architecture.md"]).lstrip("\n").replace(
                "stale\n", "```\nnuma -> core 1\ndata -> core 1, numa 1\nmodel -> data 1\n"
                "synthetic -> data 1\ntrain -> data 1, model 2\ncli -> data 1, train 1\n```\n"))
            code, out, err = run_checker(root, "--check-graph")
            self.assertEqual(code, 0, out + err)
            self.assertIn("the module include graph is current", out)
            write_tree(root, {"src/model/more.cpp": '#include "shadowsync/core/error.hpp"\n'})
            code, _, err = run_checker(root, "--check-graph")
            self.assertEqual(code, 1, err)
            self.assertIn("model -> core 1, data 1", err)

    def test_graph_needs_the_markers(self):
        with tempfile.TemporaryDirectory() as root:
            write_tree(root, {**CLEAN_TREE, "docs/architecture.md": "# no markers\n"})
            for mode in ("--graph", "--check-graph"):
                code, _, err = run_checker(root, mode)
                self.assertEqual(code, 2, mode)
                self.assertIn("docs/architecture.md: needs one line", err)
            os.remove(os.path.join(root, "docs", "architecture.md"))
            code, _, err = run_checker(root, "--check-graph")
            self.assertEqual(code, 2)
            self.assertIn("docs/architecture.md: cannot read it", err)

    def test_missing_root_is_a_usage_error(self):
        with tempfile.TemporaryDirectory() as root:
            code, _, err = run_checker(os.path.join(root, "nothing"))
            self.assertEqual(code, 2)
            self.assertIn("no src/ folder there", err)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: check_layers_test.py PATH/TO/scripts/check-layers", file=sys.stderr)
        sys.exit(2)
    CHECKER = sys.argv.pop(1)
    unittest.main(verbosity=2)
