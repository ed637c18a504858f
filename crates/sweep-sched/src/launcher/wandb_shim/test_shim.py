"""Tests of the W&B shim (sitecustomize.py next to this file).

Run: python3 crates/sweep-sched/src/launcher/wandb_shim/test_shim.py
(crates/sweep-cli/tests/wandb_real.rs runs it). The row rules and the import
hook are tested without wandb (a stand-in package); the tests that need the
real wandb skip without it, or fail when SWEEP_REQUIRE_WANDB=1. Those compare
the epochs the shim prints with the history rows wandb-core wrote to the
run's .wandb file.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "sitecustomize.py")


def load_shim():
    spec = importlib.util.spec_from_file_location("sweep_wandb_shim_under_test", SHIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shim = load_shim()


def rows(metric="val_loss"):
    events = []
    return shim.Rows(metric, events.append), events


def epochs(events):
    return [{k: v for k, v in e.items() if k != "event"} for e in events if e["event"] == "epoch"]


class RowRules(unittest.TestCase):
    def test_each_call_without_step_or_commit_is_a_row(self):
        r, ev = rows()
        r.log({"val_loss": 3.0, "acc": 1})
        r.log({"val_loss": 2.0})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 3.0, "acc": 1.0}, {"epoch": 2, "val_loss": 2.0}])
        self.assertEqual(r.step, 2)

    def test_rows_without_the_metric_are_not_epochs(self):
        r, ev = rows()
        for i in range(5):
            r.log({"train_loss": float(i)})  # per-batch logging
        r.log({"val_loss": 1.0})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 1.0}])
        self.assertEqual(r.step, 6)

    def test_commit_false_accumulates_into_the_pending_row(self):
        r, ev = rows()
        r.log({"val_loss": 1.0}, commit=False)
        r.log({"acc": 0.5}, commit=False)
        self.assertEqual(ev, [])
        r.log({"acc": 0.7})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 1.0, "acc": 0.7}])

    def test_commit_true_commits_even_with_a_step(self):
        r, ev = rows()
        r.log({"val_loss": 1.0}, step=0, commit=True)
        r.log({"val_loss": 2.0}, step=1, commit=True)
        self.assertEqual([e["val_loss"] for e in epochs(ev)], [1.0, 2.0])
        self.assertEqual(r.step, 2)

    def test_a_larger_step_commits_the_pending_row(self):
        r, ev = rows()
        r.log({"val_loss": 1.0}, step=3)
        r.log({"acc": 0.1}, step=3)  # the same step: the same row
        self.assertEqual(ev, [])
        r.log({"val_loss": 0.5}, step=7)
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 1.0, "acc": 0.1}])
        r.finish()
        self.assertEqual(epochs(ev)[-1], {"epoch": 2, "val_loss": 0.5})

    def test_a_smaller_step_is_dropped_whole(self):
        r, ev = rows()
        r.log({"val_loss": 1.0}, step=5, commit=True)
        r.log({"val_loss": 9.0}, step=2, commit=True)
        r.log({"val_loss": 2.0})
        self.assertEqual([e["val_loss"] for e in epochs(ev)], [1.0, 2.0])

    def test_a_step_after_default_commits_counts_from_them(self):
        r, ev = rows()
        r.log({"val_loss": 1.0})  # step 0
        r.log({"val_loss": 2.0})  # step 1
        r.log({"val_loss": 3.0}, step=1)  # current step is 2: dropped
        r.log({"val_loss": 4.0}, step=2)
        r.finish()
        self.assertEqual([e["val_loss"] for e in epochs(ev)], [1.0, 2.0, 4.0])

    def test_an_empty_commit_advances_the_step_without_a_row(self):
        r, ev = rows()
        r.log({})
        r.log({"val_loss": 1.0}, step=1)
        r.finish()
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 1.0}])

    def test_non_finite_values_count_and_non_numbers_do_not(self):
        r, ev = rows()
        r.log({"val_loss": float("nan")})
        r.log({"val_loss": float("inf"), "note": "x", "flag": True, "none": None, "list": [1, 2]})
        r.log({"val_loss": "n/a"})
        r.log({"val_loss": True})
        e = epochs(ev)
        self.assertEqual(len(e), 2)
        self.assertTrue(math.isnan(e[0]["val_loss"]))
        self.assertEqual(e[1], {"epoch": 2, "val_loss": float("inf")})
        line = json.dumps(ev[0], allow_nan=True)
        self.assertIn("NaN", line)

    def test_a_later_non_number_replaces_a_number_in_the_row(self):
        r, ev = rows()
        r.log({"val_loss": 1.0}, commit=False)
        r.log({"val_loss": "gone"})
        self.assertEqual(ev, [])

    def test_nested_dicts_are_dotted_and_protocol_keys_are_left_out(self):
        r, ev = rows("val.loss")
        r.log({"val": {"loss": 0.5, "sub": {"acc": 2}}, "epoch": 7, "event": 1, "_timestamp": 5.0, "_step": 3})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val.loss": 0.5, "val.sub.acc": 2.0}])

    def test_slashes_are_plain_characters(self):
        r, ev = rows("val/loss")
        r.log({"val/loss": 0.5, "train/loss": 0.7})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val/loss": 0.5, "train/loss": 0.7}])

    def test_last_values_are_the_default_summary(self):
        r, ev = rows()
        r.log({"val_loss": 1.0, "a": 1})
        r.log({"val_loss": 0.5, "a": "text"})
        r.log({"b": 3})
        self.assertEqual(r.last, {"val_loss": 0.5, "b": 3.0})
        self.assertEqual(
            shim.done_event({"val_loss": 0.5, "x": {"y": 1}, "s": "t", "_step": 9, "_wandb": {"runtime": 1}, "epoch": 3}),
            {"event": "done", "val_loss": 0.5, "x.y": 1.0, "epoch": 3.0},
        )

    def test_scalars_from_arrays_and_tensors(self):
        class ZeroD:
            shape = ()

            def item(self):
                return 0.25

        class Vector:
            shape = (2,)

            def item(self):
                raise ValueError("not a scalar")

        r, ev = rows()
        r.log({"val_loss": ZeroD(), "v": Vector(), "big": 10**400})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 0.25}])
        try:
            import numpy as np
        except ImportError:
            return
        r, ev = rows()
        r.log({"val_loss": np.float32(0.5), "n": np.int64(3), "b": np.bool_(True), "a0": np.array(2.0), "a1": np.ones(3)})
        self.assertEqual(epochs(ev), [{"epoch": 1, "val_loss": 0.5, "n": 3.0, "a0": 2.0}])


def run_python(python, code, env_extra, cwd, pythonpath):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "SWEEP_"))}
    for k in ("RANK", "LOCAL_RANK", "NODE_RANK", "PYTHONPATH"):
        env.pop(k, None)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "SWEEP_WANDB_METRIC": "val_loss",
            "WANDB_MODE": "offline",
            "WANDB_DIR": cwd,
            "WANDB_CONFIG_DIR": os.path.join(cwd, "config"),
            "WANDB_CACHE_DIR": os.path.join(cwd, "cache"),
            "WANDB_DATA_DIR": os.path.join(cwd, "data"),
            "WANDB_SILENT": "true",
            "WANDB_BASE_URL": "http://127.0.0.1:9",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(env_extra)
    script = os.path.join(cwd, "script.py")
    with open(script, "w") as f:
        f.write(textwrap.dedent(code))
    return subprocess.run(
        [python, script], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120
    )


def events_of(stdout):
    out = []
    for line in stdout.decode().splitlines():
        if line.startswith('{"event"'):
            out.append(json.loads(line))
    return out


FAKE_RUN = '''
class Run:
    def __init__(self):
        self._interface = object()
        self._exit_code = None
        self.calls = []
    def _partial_history_callback(self, data, step=None, commit=None):
        self.calls.append((data, step, commit))
    def _atexit_cleanup(self, exit_code=None):
        self._exit_code = exit_code or 0
'''


class ImportHook(unittest.TestCase):
    """The hook, on a stand-in `wandb` package (no wandb needed)."""

    def fake_wandb(self, tmp, run_source):
        pkg = os.path.join(tmp, "fake", "wandb", "sdk")
        os.makedirs(pkg)
        for d in (os.path.join(tmp, "fake", "wandb"), pkg):
            with open(os.path.join(d, "__init__.py"), "w") as f:
                f.write("patched = {'tensorboard': []}\n" if d.endswith("wandb") else "")
        with open(os.path.join(pkg, "wandb_run.py"), "w") as f:
            f.write(run_source)
        return os.path.join(tmp, "fake")

    def test_the_hook_wraps_run_and_keeps_the_real_call(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake = self.fake_wandb(tmp, FAKE_RUN)
            p = run_python(
                sys.executable,
                """
                import sys
                from wandb.sdk.wandb_run import Run
                run = Run()
                print("a line of the script's own")
                run._partial_history_callback({"val_loss": 2.0, "lr": 0.1})
                run._partial_history_callback({"val_loss": 1.0}, None, False)
                run._atexit_cleanup()
                assert len(run.calls) == 2, run.calls
                assert Run._partial_history_callback.__name__ == "_partial_history_callback"
                """,
                {},
                tmp,
                [HERE, fake],
            )
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual(p.stderr.decode(), "")
            self.assertIn(b"a line of the script's own", p.stdout)
            self.assertEqual(
                events_of(p.stdout),
                [
                    {"event": "epoch", "epoch": 1, "val_loss": 2.0, "lr": 0.1},
                    {"event": "epoch", "epoch": 2, "val_loss": 1.0},
                    {"event": "done", "val_loss": 1.0, "lr": 0.1},
                ],
            )

    def test_a_failing_exit_has_no_done_event(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake = self.fake_wandb(tmp, FAKE_RUN)
            p = run_python(
                sys.executable,
                """
                from wandb.sdk.wandb_run import Run
                run = Run()
                run._partial_history_callback({"val_loss": 2.0})
                run._atexit_cleanup(exit_code=1)
                """,
                {},
                tmp,
                [HERE, fake],
            )
            self.assertEqual(events_of(p.stdout), [{"event": "epoch", "epoch": 1, "val_loss": 2.0}])

    def test_a_wandb_the_shim_does_not_know_is_reported_once_and_left_alone(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake = self.fake_wandb(tmp, "class NotRun:\n    pass\nVALUE = 42\n")
            p = run_python(
                sys.executable,
                "from wandb.sdk import wandb_run\nprint('value', wandb_run.VALUE)\n",
                {},
                tmp,
                [HERE, fake],
            )
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertIn(b"value 42", p.stdout)
            err = p.stderr.decode()
            self.assertEqual(err.count("sweep: wandb shim:"), 1, err)
            self.assertIn("patching wandb.sdk.wandb_run failed", err)

    def test_the_shim_is_off_without_a_metric_or_when_turned_off(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake = self.fake_wandb(tmp, FAKE_RUN)
            code = """
                from wandb.sdk.wandb_run import Run
                run = Run()
                run._partial_history_callback({"val_loss": 2.0})
                """
            for extra in ({"SWEEP_WANDB_METRIC": ""}, {"SWEEP_WANDB_SHIM": "0"}, {"RANK": "1"}):
                p = run_python(sys.executable, code, extra, tmp, [HERE, fake])
                self.assertEqual(p.returncode, 0, p.stderr.decode())
                self.assertEqual(events_of(p.stdout), [], extra)

    def test_the_next_sitecustomize_on_the_path_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            other = os.path.join(tmp, "other")
            copy = os.path.join(tmp, "copy")
            os.makedirs(other)
            os.makedirs(copy)
            with open(os.path.join(other, "sitecustomize.py"), "w") as f:
                f.write("import os\nos.environ['OTHER_SITECUSTOMIZE'] = 'ran'\n")
            with open(SHIM) as src, open(os.path.join(copy, "sitecustomize.py"), "w") as dst:
                dst.write(src.read())
            p = run_python(
                sys.executable,
                """
                import os, sys
                print(os.environ.get('OTHER_SITECUSTOMIZE'), sum(type(f).__name__ == '_Finder' for f in sys.meta_path))
                """,
                {},
                tmp,
                [HERE, copy, other],  # a second copy of the shim installs nothing
            )
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual(p.stdout.decode().split(), ["ran", "1"])


# --- Against the real wandb ---------------------------------------------


_WANDB_PYTHON = []


def wandb_python():
    """A python with wandb, or None (SWEEP_TEST_PYTHON, else this one)."""
    if not _WANDB_PYTHON:
        python = os.environ.get("SWEEP_TEST_PYTHON") or sys.executable
        try:
            ok = subprocess.run([python, "-c", "import wandb"], capture_output=True, timeout=120).returncode == 0
        except OSError:
            ok = False
        _WANDB_PYTHON.append(python if ok else None)
    python = _WANDB_PYTHON[0]
    if python is None and os.environ.get("SWEEP_REQUIRE_WANDB") == "1":
        raise AssertionError("SWEEP_REQUIRE_WANDB=1 but no python with wandb (SWEEP_TEST_PYTHON)")
    return python


# After the run, the script prints its history rows as wandb-core wrote them
# to the .wandb file (a LevelDB-style log: 32 KiB blocks after a 7-byte
# header, records of wandb's protobufs).
READ_HISTORY = r"""
wandb.teardown()  # wandb-core writes the file with its own buffering: shut it down first
import glob, json, struct
from wandb.proto import wandb_internal_pb2 as pb
[path] = glob.glob(run.dir + "/../run-*.wandb")
data = open(path, "rb").read()
pos, block, buf, rows = 7, 32768, b"", []
while pos + 7 <= len(data):
    if block - pos % block < 7:
        pos += block - pos % block
        continue
    _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
    chunk = data[pos + 7:pos + 7 + length]
    pos += 7 + length
    if kind == 0:
        continue
    buf = chunk if kind in (1, 2) else buf + chunk
    if kind not in (1, 4):
        continue
    record = pb.Record()
    record.ParseFromString(buf)
    if record.WhichOneof("record_type") == "history":
        rows.append({".".join(i.nested_key) if i.nested_key else i.key: json.loads(i.value_json) for i in record.history.item})
print("HISTORY " + json.dumps(rows))
"""


TRICKY = """
import math, wandb
run = wandb.init(settings=wandb.Settings(console="CONSOLE"))
print("the script's own line")
wandb.log({"train_loss": 5.0})
wandb.log({"val_loss": 1.0, "acc": 0.5, "flag": True, "name": "x", "nested": {"a": 1}, "epoch": 1})
wandb.log({"val_loss": 0.9}, commit=False)
wandb.log({"acc": 0.6})
wandb.log({"val_loss": 0.8}, step=10)
wandb.log({"acc": 0.7}, step=10)
wandb.log({"val_loss": 0.7}, step=11)
wandb.log({"val_loss": 0.1}, step=5)  # behind: dropped
wandb.log({"hist": wandb.Histogram([1, 2, 3]), "val_loss": 0.5}, commit=True)  # replaces 0.7 in step 11
for i in range(3):
    wandb.log({"batch_loss": float(i)})
wandb.log({"val_loss": 0.4}, commit=False)
run.summary["best"] = 42
run.finish()
""" + READ_HISTORY


class RealWandb(unittest.TestCase):
    def setUp(self):
        self.python = wandb_python()
        if self.python is None:
            self.skipTest("no python with wandb (SWEEP_TEST_PYTHON)")

    def check_against_history(self, console):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_python(self.python, TRICKY.replace("CONSOLE", console), {}, tmp, [HERE])
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertIn(b"the script's own line", p.stdout)
            self.assertNotIn(b"sweep: wandb shim", p.stderr)
            events = events_of(p.stdout)
            [history] = [json.loads(l[8:]) for l in p.stdout.decode().splitlines() if l.startswith("HISTORY ")]
            want = []
            for row in history:
                if isinstance(row.get("val_loss"), (int, float)):
                    e = {"epoch": len(want) + 1}
                    e.update(
                        (k, float(v))
                        for k, v in row.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("_") and k != "epoch"
                    )
                    want.append(e)
            self.assertEqual(epochs(events), want, p.stdout.decode())
            self.assertEqual([e["val_loss"] for e in want], [1.0, 0.9, 0.8, 0.5, 0.4])
            self.assertEqual(events[-1]["event"], "done")
            self.assertEqual(events[-1]["best"], 42.0)
            self.assertEqual(events[-1]["val_loss"], 0.4)
            self.assertEqual(events[-1]["batch_loss"], 2.0)
            self.assertNotIn("_step", events[-1])

    def test_epochs_are_the_rows_wandb_core_wrote(self):
        self.check_against_history("auto")

    def test_redirected_console_does_not_swallow_protocol_lines(self):
        self.check_against_history("redirect")

    def test_a_disabled_run_still_reports(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_python(
                self.python,
                """
                import wandb
                wandb.init()
                for e in range(1, 4):
                    wandb.log({"val_loss": 1.0 / e})
                wandb.finish()
                """,
                {"WANDB_MODE": "disabled"},
                tmp,
                [HERE],
            )
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual([e["epoch"] for e in epochs(events_of(p.stdout))], [1, 2, 3])
            self.assertEqual(events_of(p.stdout)[-1], {"event": "done", "val_loss": 1.0 / 3})
            self.assertFalse(os.path.exists(os.path.join(tmp, "wandb")))

    def test_a_script_that_never_finishes_still_has_its_last_row(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_python(
                self.python,
                """
                import wandb
                wandb.init()
                wandb.log({"val_loss": 2.0})
                wandb.log({"val_loss": 1.0}, commit=False)
                """,
                {},
                tmp,
                [HERE],
            )
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual([e["val_loss"] for e in epochs(events_of(p.stdout))], [2.0, 1.0])

    def test_log_before_init_raises_as_wandb_does(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_python(
                self.python,
                """
                import wandb
                try:
                    wandb.log({"val_loss": 1.0})
                except wandb.Error as e:
                    print("raised")
                """,
                {},
                tmp,
                [HERE],
            )
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertEqual(p.stdout.decode().split(), ["raised"])


if __name__ == "__main__":
    unittest.main()
