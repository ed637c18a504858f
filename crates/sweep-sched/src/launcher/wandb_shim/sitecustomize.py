"""sweep's W&B shim: a training script's wandb.log() values reach sweep.

sweep writes this file into a folder of the results directory and puts that
folder first on PYTHONPATH for the trials of a W&B sweep file, so Python runs
it at start-up (as `sitecustomize`). It sets SWEEP_WANDB_METRIC to the
sweep's metric name. The shim then:

- installs an import hook; when wandb defines its `Run` class
  (`wandb.sdk.wandb_run`), the method every `run.log()` / `wandb.log()` goes
  through is wrapped: the real call happens first and unchanged (the offline
  run files are written as always), then the values are handed to sweep;
- rebuilds the run's history rows as wandb-core does (`commit=False` adds to
  the pending row; a `step=` above the current step commits the pending row
  first, one below it is dropped; a call without `step=` and `commit=` commits);
- counts epochs the way W&B's hyperband does: epoch k is the k-th committed
  row that holds a number for the metric (NaN and infinities included), and
  prints `{"event":"epoch","epoch":k,...}` with that row's numeric scalars
  (ints and floats, NumPy scalars, 0-d arrays and tensors; not bools,
  strings, media, histograms). Rows without the metric print nothing. Nested
  dicts are flattened with dots (`{"val": {"loss": 1}}` is `val.loss`);
  a logged `epoch` key is left out (the event's epoch is the row count) and
  so are W&B's own `_step`, `_runtime`, `_timestamp`, `_wandb`;
- when the run finishes with exit code 0 (`wandb.finish()`, `run.finish()`,
  the end of a `with wandb.init()` block), prints `{"event":"done",...}` with the numeric scalars of the
  run's summary as wandb-core reports it (the last value of each key unless
  the script set it, or `define_metric` chose min/max); a run never
  finished has its open row committed at exit, and no done event;
- writes protocol lines to a copy of file descriptor 1 taken at start-up, one
  whole line per write, so wandb's console capture (which wraps sys.stdout or
  redirects fd 1) cannot reorder, split or swallow them;
- then runs the next `sitecustomize` on sys.path, if any (Debian ships one).

Nothing here may break the training script: every failure inside the shim is
caught and reported once on stderr, and the script carries on. Only the
first W&B run of a process reports (a forked child reports nothing); a
process whose RANK, LOCAL_RANK or NODE_RANK is set to something other than 0
(the other ranks of a distributed job) reports nothing.

SWEEP_WANDB_SHIM=0 (or off/false/no) turns the shim off; without
SWEEP_WANDB_METRIC it does nothing but chain to the next sitecustomize.
"""

import os
import sys
import threading

_RESERVED = ("_step", "_runtime", "_timestamp", "_wandb")
_NOT_A_NUMBER = object()
_reported = set()
_state = {"out": None, "err": None, "metric": None, "run": None, "rows": None, "pid": None, "other_run": False}


def _err(message):
    """One line on stderr, through the descriptor copied at start-up."""
    fd = _state["err"]
    data = ("sweep: wandb shim: %s\n" % message).encode("utf-8", "replace")
    try:
        os.write(fd if fd is not None else 2, data)
    except Exception:
        pass


def _report(where, exc):
    """Reports a failure inside the shim, once per place."""
    if where in _reported:
        return
    _reported.add(where)
    _err(
        "%s failed (%s: %s); the training script goes on, but its wandb.log values may not reach sweep"
        % (where, type(exc).__name__, exc)
    )


def _write_line(obj):
    """Writes one protocol line, whole, to the saved stdout.

    The line starts with a newline: another writer of the same stdout may
    have left a line unfinished (wandb's console redirect forwards what it
    reads in chunks, and an unbuffered print writes its text and its newline
    apart), and a protocol line glued to its end would not be read as one.
    Sweep reads the empty line as an empty line of output."""
    import json

    data = ("\n" + json.dumps(obj, allow_nan=True, separators=(",", ":")) + "\n").encode("utf-8")
    fd = _state["out"]
    if fd is None:
        fd = 1
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _number(value):
    """The value as a float when it is a numeric scalar, else _NOT_A_NUMBER."""
    try:
        if isinstance(value, bool):
            return _NOT_A_NUMBER
        if isinstance(value, (int, float)):
            return float(value)
        # NumPy scalars, 0-d arrays, torch/JAX 0-d tensors.
        if hasattr(value, "item") and getattr(value, "shape", None) == ():
            value = value.item()
        if isinstance(value, bool):
            return _NOT_A_NUMBER
        import numbers

        if isinstance(value, numbers.Real):
            return float(value)
    except Exception:
        pass
    return _NOT_A_NUMBER


def _flatten(data, prefix, out):
    """Adds data's values to out, nested mappings as dotted keys."""
    try:
        from collections.abc import Mapping
    except ImportError:  # pragma: no cover
        Mapping = dict
    for key, value in data.items():
        name = prefix + str(key)
        if isinstance(value, Mapping):
            _flatten(value, name + ".", out)
        else:
            out[name] = _number(value)


class Rows:
    """A W&B run's history rows, rebuilt from its log calls as wandb-core
    builds them (core/internal/stream/handler.go, handlePartialHistorySync),
    turned into sweep's epoch events.

    `emit` gets each event as a dict. `last` holds the last numeric value of
    each key over the committed rows (W&B's default summary).
    """

    def __init__(self, metric, emit, step=0):
        self.metric = metric
        self.emit = emit
        self.step = step
        self.pending = {}
        self.epoch = 0
        self.last = {}

    def log(self, data, step=None, commit=None):
        """One history request: what `run.log(data, step=, commit=)` sends."""
        if step is not None:
            step = int(step)
            if step > self.step:
                self._commit()
                self.step = step
            elif step < self.step:
                return  # wandb warns and drops the whole call
        _flatten(data, "", self.pending)
        if commit is not None:
            flush = bool(commit)
        else:
            flush = step is None
        if flush:
            self._commit()
            self.step += 1

    def finish(self):
        """The run ends: its pending row is committed."""
        self._commit()
        self.step += 1

    def _commit(self):
        row, self.pending = self.pending, {}
        for key, value in row.items():
            if value is _NOT_A_NUMBER:
                self.last.pop(key, None)
            else:
                self.last[key] = value
        if row.get(self.metric, _NOT_A_NUMBER) is _NOT_A_NUMBER:
            return
        self.epoch += 1
        event = {"event": "epoch", "epoch": self.epoch}
        for key, value in row.items():
            if value is not _NOT_A_NUMBER and key not in ("event", "epoch") and key not in _RESERVED:
                event[key] = value
        self.emit(event)


def done_event(summary):
    """The done event for a run summary (a flat or nested dict)."""
    flat = {}
    _flatten(summary, "", flat)
    event = {"event": "done"}
    for key, value in flat.items():
        if value is not _NOT_A_NUMBER and key != "event" and key not in _RESERVED and not key.startswith("_wandb."):
            event[key] = value
    return event


# --- Attaching to wandb -------------------------------------------------

_local = threading.local()  # how deep in wrapped log calls this thread is
_lock = threading.RLock()  # around the rows: wandb.log may be called from threads


def _quiet_rank():
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK"):
        value = os.environ.get(name, "").strip()
        if value and value != "0":
            return True
    return False


def _rows_for(run):
    """The Rows of `run` when this process reports for it, else None."""
    if _state["pid"] != os.getpid():
        return None  # a forked child: its parent reports
    if _state["run"] is None:
        _state["run"] = run
        _state["rows"] = Rows(_state["metric"], _emit, int(getattr(run, "_starting_step", 0) or 0))
    if _state["run"] is run:
        return _state["rows"]
    if not _state["other_run"]:
        _state["other_run"] = True
        _err("a second W&B run in this process: only the first run's wandb.log values reach sweep")
    return None


def _emit(event):
    _write_line(event)


def _call_args(args, kwargs):
    data = args[0] if len(args) > 0 else kwargs.get("data")
    step = args[1] if len(args) > 1 else kwargs.get("step")
    commit = args[2] if len(args) > 2 else kwargs.get("commit")
    return data, step, commit


def _wrap_log(original, real_history):
    """Wraps a Run method taking (data, step=None, commit=None).

    real_history: the method is `_partial_history_callback`, which sends only
    when the run has a backend, and whose step wandb leaves out while
    TensorBoard is synced or in shared mode.
    """
    import functools

    @functools.wraps(original)
    def log(self, *args, **kwargs):
        depth = getattr(_local, "depth", 0)
        _local.depth = depth + 1
        try:
            result = original(self, *args, **kwargs)
        finally:
            _local.depth = depth
        if depth:
            return result  # an inner call of one already counted
        try:
            data, step, commit = _call_args(args, kwargs)
            if real_history and not getattr(self, "_interface", None):
                return result
            if real_history and step is not None:
                wandb = sys.modules.get("wandb")
                patched = getattr(wandb, "patched", None) or {}
                shared = getattr(getattr(self, "_settings", None), "_shared", False)
                if patched.get("tensorboard") or shared is True:
                    step = None
            with _lock:
                rows = _rows_for(self)
                if rows is not None and hasattr(data, "items"):
                    rows.log(data, step, commit)
        except Exception as exc:
            _report("reading wandb.log", exc)
        return result

    log._sweep_wrapped = True
    return log


def _finish_rows(run):
    with _lock:
        rows = _rows_for(run)
        if rows is not None and not getattr(rows, "finished", False):
            rows.finished = True
            rows.finish()
    return rows


def _wrap_cleanup(original):
    """Wraps Run._atexit_cleanup: the pending row, then the done event."""
    import functools

    @functools.wraps(original)
    def cleanup(self, *args, **kwargs):
        rows = None
        try:
            if getattr(self, "_interface", None) is not None and not getattr(self, "_atexit_cleanup_called", False):
                rows = _finish_rows(self)
        except Exception as exc:
            _report("ending the run's history", exc)
        result = original(self, *args, **kwargs)
        try:
            if rows is not None and not getattr(rows, "done", False) and getattr(self, "_exit_code", 0) in (0, None):
                rows.done = True
                summary = None
                final = getattr(self, "_final_summary", None)
                items = getattr(final, "item", None)
                if items is not None:
                    import json

                    summary = {}
                    for item in items:
                        key = ".".join(item.nested_key) if len(item.nested_key) else item.key
                        summary[key] = json.loads(item.value_json)
                _write_line(done_event(summary if summary is not None else rows.last))
        except Exception as exc:
            _report("reading the run summary", exc)
        return result

    cleanup._sweep_wrapped = True
    return cleanup


def _wrap_noop_finish(original):
    """Wraps NoopRun.finish (WANDB_MODE=disabled): pending row, done event
    from the logged values (a disabled run's summary is those)."""
    import functools

    @functools.wraps(original)
    def finish(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        try:
            rows = _finish_rows(self)
            if rows is not None and not getattr(rows, "done", False):
                rows.done = True
                _write_line(done_event(rows.last))
        except Exception as exc:
            _report("finishing the disabled run", exc)
        return result

    finish._sweep_wrapped = True
    return finish


def _patch_run(module):
    run_class = getattr(module, "Run", None)
    if run_class is None:
        raise RuntimeError("wandb.sdk.wandb_run has no Run class")
    for name in ("_partial_history_callback", "_log", "log"):
        method = run_class.__dict__.get(name)
        if callable(method):
            if not getattr(method, "_sweep_wrapped", False):
                setattr(run_class, name, _wrap_log(method, name == "_partial_history_callback"))
            break
    else:
        raise RuntimeError("wandb's Run has no log method")
    cleanup = run_class.__dict__.get("_atexit_cleanup")
    if callable(cleanup) and not getattr(cleanup, "_sweep_wrapped", False):
        run_class._atexit_cleanup = _wrap_cleanup(cleanup)


def _patch_noop_run(module):
    noop = getattr(module, "NoopRun", None)
    if noop is None:
        return
    log = noop.__dict__.get("log")
    if callable(log) and not getattr(log, "_sweep_wrapped", False):
        noop.log = _wrap_log(log, False)
    finish = noop.__dict__.get("finish")
    if callable(finish) and not getattr(finish, "_sweep_wrapped", False):
        noop.finish = _wrap_noop_finish(finish)


_PATCHES = {"wandb.sdk.wandb_run": _patch_run, "wandb.sdk.lib.noop_run": _patch_noop_run}


class _Loader:
    """Runs the real loader, then patches the module it filled."""

    def __init__(self, inner, name):
        self._inner = inner
        self._name = name

    def __getattr__(self, attr):
        return getattr(self._inner, attr)

    def create_module(self, spec):
        create = getattr(self._inner, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module):
        self._inner.exec_module(module)
        try:
            _PATCHES[self._name](module)
        except Exception as exc:
            _report("patching %s" % self._name, exc)


class _Finder:
    """A sys.meta_path finder that hands wandb's run modules to _Loader."""

    def find_spec(self, name, path=None, target=None):
        if name not in _PATCHES:
            return None
        try:
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
            else:
                return None
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec
            spec.loader = _Loader(spec.loader, name)
            return spec
        except Exception as exc:
            _report("finding %s" % name, exc)
            return None


def _install():
    if os.environ.get("SWEEP_WANDB_SHIM", "").strip().lower() in ("0", "off", "false", "no"):
        return
    metric = os.environ.get("SWEEP_WANDB_METRIC", "")
    if not metric or getattr(sys, "_sweep_wandb_shim", False):
        return  # no metric, or another copy of the shim is installed
    sys._sweep_wandb_shim = True
    _state["metric"] = metric
    _state["pid"] = os.getpid()
    for key, fd in (("out", 1), ("err", 2)):
        try:
            _state[key] = os.dup(fd)
        except OSError:
            _state[key] = None
    if _quiet_rank():
        return
    for name, patch in _PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _Finder())
    import atexit

    atexit.register(_at_exit)


def _at_exit():
    """At interpreter exit, a run never finished still has its pending row
    committed (as wandb-core does when the run ends)."""
    try:
        run = _state["run"]
        if run is not None and _state["pid"] == os.getpid():
            _finish_rows(run)
    except Exception as exc:
        _report("ending the run at exit", exc)


def _chain():
    """Runs the next sitecustomize on sys.path after this file's folder."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.realpath(__file__))

    def real(p):
        try:
            return os.path.realpath(p or os.getcwd())
        except Exception:
            return p

    entries = list(sys.path)
    real_entries = [real(p) for p in entries]
    if here in real_entries:
        rest = entries[real_entries.index(here) + 1 :]
    else:
        rest = entries
    rest = [p for p in rest if real(p) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    if spec.origin and os.path.realpath(spec.origin) == os.path.realpath(__file__):
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        # What site.py prints for a failing sitecustomize.
        _err("the next sitecustomize (%s) failed: %s: %s" % (spec.origin, type(exc).__name__, exc))


if __name__ == "sitecustomize":
    try:
        _install()
    except Exception as exc:
        _report("installing the import hook", exc)
    try:
        _chain()
    except Exception as exc:
        _report("chaining to the next sitecustomize", exc)
