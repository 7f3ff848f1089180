"""Copy-first-input with a long delay, with and without warm-up initialisation (issue 7 item 4).

The BRC paper's benchmark (cells.md 2.4, 6): a sequence of T standard-normal inputs; the target is
the *first* input, read out at the last step (MSE). Predicting 0 gives MSE = 1. For each cell
(BRC, nBRC) and seed, the same initial network is trained twice with Adam: once as initialised,
once after ``warmup_`` (cells.md 6: 100 steps, n = 32, Adam 1e-2, target VAA* 0.95). Reported:
VAA of the stack before/after warm-up, test MSE during and after training.

    nice .venv/bin/python benchmarks/warmup_copy.py     # defaults below: 4 jobs on 2 workers
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from torch import nn

from modspike import registry
from modspike.step import run
from modspike.studies.warmup import measure_vaa, warmup_
from modspike.train.modules import TorchLayer, program_of

ROOT = Path(__file__).resolve().parent


class CopyNet(nn.Module):
    """Stacked BRC / nBRC layers and a linear readout of the last step."""

    def __init__(self, cell: str, hidden: int, layers: int, n_in: int = 1):
        super().__init__()
        sizes = [n_in] + [hidden] * layers
        kind = registry.cell(cell)
        self.layers = nn.ModuleList(
            TorchLayer(a, kind, kind.floating.module(hidden, None), recurrent=False)
            for a in sizes[:-1]
        )
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (T, B, n_in) -> (B,)
        out = run(program_of(self.layers, device=x.device), x)
        return self.readout(out.records[-1][-1]).squeeze(-1)


def copy_data(n: int, length: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(length, n, 1, generator=gen)
    return x, x[0, :, 0].clone()


@torch.no_grad()
def test_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model(x) - y).pow(2).mean())


def train(model, data, test, iterations, batch, lr, eval_every, seed) -> list[dict]:
    x, y = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    curve = [{"iteration": 0, "test_mse": test_mse(model, *test)}]
    for it in range(1, iterations + 1):
        idx = torch.randint(0, x.shape[1], (batch,), generator=gen)
        loss = (model(x[:, idx]) - y[idx]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if it % eval_every == 0 or it == iterations:
            curve.append({"iteration": it, "test_mse": test_mse(model, *test)})
    return curve


def one(job: dict) -> dict:
    """Train one (cell, seed) pair without and with warm-up from the same initial weights."""
    torch.set_num_threads(1)
    a = job["args"]
    cell, seed = job["cell"], job["seed"]
    gen = torch.Generator().manual_seed(1000 + seed)
    data = copy_data(a["train"], a["length"], gen)
    test = copy_data(a["test"], a["length"], gen)
    torch.manual_seed(seed)
    base = CopyNet(cell, a["hidden"], a["layers"])
    out = {"cell": cell, "seed": seed}
    for variant in ("plain", "warmup"):
        model = copy.deepcopy(base)
        t0 = time.perf_counter()
        rec: dict = {"vaa_before": measure_vaa(model.layers, data[0], a["vaa_steps"], 5, seed=7)}
        if variant == "warmup":
            hist = warmup_(model.layers, data[0], steps=a["warmup_steps"])
            rec["warmup_seconds"] = time.perf_counter() - t0
            rec["vaa_star_last10"] = [
                sum(h["vaa_star"][k] for h in hist[-10:]) / 10 for k in range(a["layers"])
            ]
        rec["vaa_after_init"] = measure_vaa(model.layers, data[0], a["vaa_steps"], 5, seed=7)
        rec["curve"] = train(
            model, data, test, a["iterations"], a["batch"], a["lr"], a["eval_every"], seed
        )
        rec["final_test_mse"] = rec["curve"][-1]["test_mse"]
        rec["best_test_mse"] = min(c["test_mse"] for c in rec["curve"])
        rec["seconds"] = time.perf_counter() - t0
        out[variant] = rec
        print(f"  {cell} seed {seed} {variant}: VAA {rec['vaa_before']:.3f} -> "
              f"{rec['vaa_after_init']:.3f}, test MSE {rec['final_test_mse']:.3f} "
              f"({rec['seconds']:.0f} s)", flush=True)  # fmt: skip
    return out


def table(results: list[dict]) -> str:
    rows = [
        "| cell | seed | VAA init | VAA after warm-up | test MSE, plain | test MSE, warm-up | "
        "best MSE plain / warm-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p, w = r["plain"], r["warmup"]
        rows.append(
            f"| {r['cell']} | {r['seed']} | {p['vaa_before']:.3f} | {w['vaa_after_init']:.3f} | "
            f"{p['final_test_mse']:.3f} | {w['final_test_mse']:.3f} | "
            f"{p['best_test_mse']:.3f} / {w['best_test_mse']:.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["brc", "nbrc"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--length", type=int, default=100, help="sequence length T (the delay)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=250)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--train", type=int, default=2048)
    ap.add_argument("--test", type=int, default=512)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--vaa-steps", type=int, default=1000, help="stabilisation for VAA")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "warmup_copy.json"))
    args = ap.parse_args(argv)
    jobs = [
        {"cell": c, "seed": s, "args": {k.replace("-", "_"): v for k, v in vars(args).items()}}
        for c in args.cells
        for s in args.seeds
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(one, jobs))
    out = {"args": vars(args), "wall_seconds": time.perf_counter() - t0, "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(table(results))
    print(f"wall {out['wall_seconds']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
