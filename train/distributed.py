"""Data-parallel training over several processes started by ``torchrun`` (DDP).

    torchrun --standalone --nproc_per_node 2 -m modspike train --cell src --out runs/src

Each process takes a share of every global batch (``--batch-size`` stays the *global* batch):
all processes draw the input spikes of the whole batch from the same generator (so every sample
gets the spikes it would get in one process) and keep their own contiguous slice. The loss of a
share is ``sum of its cross-entropies * world / global batch``; DDP averages the gradients over
the processes, which gives the gradient of the mean loss over the global batch, as one process
computes it (up to float summation order; ``tests/test_distributed.py``). Parameters start
equal (same seed; DDP broadcasts rank 0's) and stay equal (every process applies the same
averaged gradient), so every process evaluates the same model and keeps the same best epoch.
Only rank 0 shows progress and writes the run directory; the others write nothing.

Backends: ``gloo`` on the CPU, ``nccl`` on CUDA (each process on ``cuda:LOCAL_RANK``). Outside
``torchrun`` (or with one process) training runs as before, untouched.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from modspike.errors import ConfigError


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Whether this process is the one that reports and writes (rank 0, or not launched)."""
    return rank() == 0


@dataclass(frozen=True)
class DataParallel:
    rank: int
    world: int
    backend: str

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DDP (gradients averaged over the processes during ``backward``)."""
        cuda = next(model.parameters()).is_cuda
        ids = [torch.cuda.current_device()] if cuda else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def share(self, n: int) -> slice:
        """This process's contiguous slice of a global batch of ``n`` samples."""
        bounds = [n * r // self.world for r in range(self.world + 1)]
        return slice(bounds[self.rank], bounds[self.rank + 1])

    def loss(self, net: nn.Module, inp: torch.Tensor, y: torch.Tensor, batch_axis: int):
        """``(loss to differentiate, the global batch's mean loss)`` for this process's share of
        the global batch ``(inp, y)``."""
        part = self.share(len(y))
        local = inp[(slice(None),) * batch_axis + (part,)]
        total = nn.functional.cross_entropy(net(local), y[part], reduction="sum")
        summed = total.detach().clone()
        dist.all_reduce(summed)
        return total * (self.world / len(y)), float(summed) / len(y)

    def info(self) -> dict:
        return {"world_size": self.world, "backend": self.backend}


@contextlib.contextmanager
def data_parallel(device: str) -> Iterator[DataParallel | None]:
    """The process group of a ``torchrun`` launch with more than one process (None otherwise),
    torn down at the end."""
    world = world_size()
    if world <= 1:
        yield None
        return
    cuda = str(device).startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: torch sees no GPU")
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend)
    try:
        yield DataParallel(dist.get_rank(), dist.get_world_size(), backend)
    finally:
        dist.destroy_process_group()
