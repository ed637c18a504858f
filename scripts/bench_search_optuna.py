#!/usr/bin/env python3
"""Optuna's TPESampler on the objectives of crates/sweep-spec/examples/bench_search.rs
(run beside it by scripts/bench-search).

TPESampler(multivariate=True, constant_liar=True, seed=s) for seeds 0..19 (BENCH_SEEDS: more), 60
trials each, one at a time and with eight in flight (ask until eight run, then
tell the one whose simulated duration ends first). Prints the median and
interquartile range of the best value after 20, 40 and 60 trials, in the table
format of bench_search. Objectives, noise and durations match the Rust side.
"""

import math
import multiprocessing
import os
import sys

try:
    import numpy as np
    import optuna
except ImportError:
    print("optuna not importable: skipped")
    sys.exit(0)

SEEDS = int(os.environ.get("BENCH_SEEDS", "20"))
TRIALS = 60
IN_FLIGHT = 8
CHECKPOINTS = (20, 40, 60)
MASK = (1 << 64) - 1


def splitmix(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def unit(x):
    return (splitmix(x & MASK) >> 11) / float(1 << 53)


def branin(p, seed, number):
    x1, x2 = p["x1"], p["x2"]
    b = 5.1 / (4.0 * math.pi**2)
    c = 5.0 / math.pi
    t = 1.0 / (8.0 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
P = [
    [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
    [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
    [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
    [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
]


def hartmann6(p, seed, number):
    xs = [p[f"x{i}"] for i in range(1, 7)]
    total = 0.0
    for i in range(4):
        inner = sum(A[i][j] * (xs[j] - P[i][j] * 1e-4) ** 2 for j in range(6))
        total += ALPHA[i] * math.exp(-inner)
    return -total


def mixed(p, seed, number):
    best_log_lr, floor = {"adam": (-3.0, 0.0), "sgd": (-1.5, 0.1)}.get(p["optimizer"], (-3.5, 0.05))
    noise = 0.05 * (unit(seed * 1_000_003 + number) - 0.5)
    return (math.log10(p["lr"]) - best_log_lr) ** 2 / 4.0 + floor + 0.05 * (p["layers"] - 5) ** 2 + noise


def ask_branin(t):
    t.suggest_float("x1", -5.0, 10.0)
    t.suggest_float("x2", 0.0, 15.0)


def ask_hartmann6(t):
    for i in range(1, 7):
        t.suggest_float(f"x{i}", 0.0, 1.0)


def ask_mixed(t):
    t.suggest_float("lr", 1e-5, 1.0, log=True)
    t.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])
    t.suggest_int("layers", 1, 8)


OBJECTIVES = [("branin", ask_branin, branin), ("hartmann6", ask_hartmann6, hartmann6), ("mixed", ask_mixed, mixed)]


def duration(number):
    return 1.0 + 2.0 * unit(number + 7_777)


def study(seed):
    sampler = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    return optuna.create_study(direction="minimize", sampler=sampler)


def best_so_far(values):
    return list(np.minimum.accumulate(values))


def run_sequential(ask, f, seed):
    s = study(seed)
    values = []
    for n in range(TRIALS):
        t = s.ask()
        ask(t)
        v = f(t.params, seed, n)
        s.tell(t, v)
        values.append(v)
    return best_so_far(values)


def run_parallel(ask, f, seed):
    s = study(seed)
    running = []  # (end time, number, trial)
    values = []
    created = 0
    now = 0.0
    while len(values) < TRIALS:
        while len(running) < IN_FLIGHT and created < TRIALS:
            t = s.ask()
            ask(t)
            running.append((now + duration(created), created, t))
            created += 1
        running.sort(key=lambda r: (r[0], r[1]))
        end, n, t = running.pop(0)
        now = end
        v = f(t.params, seed, n)
        s.tell(t, v)
        values.append(v)
    return best_so_far(values)


def row(objective, method, runs):
    line = f"{objective:<10} {method:<18}"
    for at in CHECKPOINTS:
        v = np.array([r[at - 1] for r in runs])
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        line += f" {med:>9.4f} [{q1:>8.4f},{q3:>8.4f}]"
    return line


def main():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(
        f"{'objective':<10} {'sampler':<18} {'@20 med':>9} {'IQR':>19} {'@40 med':>9} {'IQR':>19}"
        f" {'@60 med':>9} {'IQR':>19}"
    )
    # The seeds are independent studies: one process per core.
    with multiprocessing.Pool(os.cpu_count() or 1) as pool:
        for name, ask, f in OBJECTIVES:
            for method, run in (("optuna-tpe", run_sequential), ("optuna-tpe x8", run_parallel)):
                runs = pool.starmap(run, [(ask, f, seed) for seed in range(SEEDS)])
                print(row(name, method, runs), flush=True)
    print(f"(optuna {optuna.__version__})")


if __name__ == "__main__":
    main()
