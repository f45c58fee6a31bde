"""What one BLAS thread costs the model stage of ``ews train`` on a large book (issue 9; BENCHMARKS.md
"Session 24 (s24-foldscale)").

``ews`` pins BLAS to one thread (``pipelines.runtime.pin_numeric_threads`` / ``one_blas_thread``) so
that the same book gives the same figures whatever the caller's environment (s23-determinism). This
times ``models.train.train_pd_model`` (the shipped ``conf/train.yaml``: out-of-time split, LightGBM
with early stopping on ``lgbm.n_jobs`` threads, the scorecard, calibration, the refit and its
out-of-fold calibrator) on one ``ews generate`` book's modelling frame, under ``threadpoolctl``'s BLAS
limit of each ``--threads`` value in turn (interleaved, ``--rounds`` times), and prints per run the
wall and CPU seconds, the load average, the shipped kind and a digest of the shipped model's test PDs
(the same bytes or not).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/blas_cost.py --debtors 20000 --months 36 \\
        --work /tmp/blas --threads 1,2 --rounds 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from threadpoolctl import threadpool_limits  # noqa: E402

from models.train import train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.runtime import blas_threads  # noqa: E402


def frame_of(args: argparse.Namespace, cfg: TrainConfig) -> pd.DataFrame:
    import small_books

    frame, _ = small_books.book_frame(args.regime, args.seed, args.debtors, args.months, args.work, cfg)
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regime", default="base")
    ap.add_argument("--debtors", type=int, default=20000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--work", type=Path, required=True, help="where the generated book and its frame are cached"
    )
    ap.add_argument("--threads", default="1,2", help="BLAS thread limits, comma-separated")
    ap.add_argument("--rounds", type=int, default=1, help="each limit this many times, interleaved")
    ap.add_argument("--save", type=Path, default=None, help="write each run's test PDs here (.npy)")
    args = ap.parse_args()
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    t0 = time.perf_counter()
    frame = frame_of(args, cfg)
    print(json.dumps({"frame_rows": len(frame), "frame_s": round(time.perf_counter() - t0, 1)}), flush=True)
    params = cfg.to_params(ProjectConfig().default_definition.horizon_days)
    limits = [int(v) for v in args.threads.split(",")]
    order = [n for r in range(args.rounds) for n in (limits if r % 2 == 0 else limits[::-1])]
    for n in order:
        load = os.getloadavg()[0]
        with threadpool_limits(limits=n, user_api="blas"):
            seen = blas_threads()
            w0, c0 = time.perf_counter(), time.process_time()
            out = train_pd_model(frame, params)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        pds = np.ascontiguousarray(out.test["pd"].to_numpy(dtype="float64"))
        if args.save is not None:
            args.save.mkdir(parents=True, exist_ok=True)
            np.save(args.save / f"test_pd-blas{seen}-{time.strftime('%H%M%S')}.npy", pds)
        print(
            json.dumps(
                {
                    "blas_threads": seen,
                    "wall_s": round(wall, 1),
                    "cpu_s": round(cpu, 1),
                    "load_before": round(load, 2),
                    "load_after": round(os.getloadavg()[0], 2),
                    "kind": out.kind,
                    "calibration": out.shipped_calibration.method,
                    "test_rows": len(pds),
                    "test_pd_sha256": hashlib.sha256(pds.tobytes()).hexdigest()[:16],
                    "test_auc": round(float(out.metrics["auc"]), 6),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
