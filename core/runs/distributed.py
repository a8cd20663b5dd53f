"""Process groups for DistributedDataParallel runs, shared by every trainer and batch command.

Two ways to start N processes, both ending in ``init_process``:

* ``torchrun --nproc_per_node N train.py ...``: torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT;
* ``python train.py --gpus 0 1 2 3 ...``: ``spawn`` starts one process per GPU itself (the reference's
  command line, multi-GPU).

NCCL on CUDA, gloo on the CPU (tests run two CPU processes). Logging, saving and progress bars happen
on the primary process (rank 0) only; everything collective is called by all ranks.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from core.errors import ToolkitError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_primary(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def select_gpus(gpus: list[int]) -> None:
    """Restrict CUDA to ``--gpus`` as the reference does (CUDA_VISIBLE_DEVICES), before CUDA starts.

    Left alone when the variable is already set, e.g. by a cluster scheduler that picked the GPUs.
    """
    if "CUDA_VISIBLE_DEVICES" not in os.environ and gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)


def init_process(use_cuda: bool | None = None) -> DistInfo:
    """Join the process group described by the environment (a no-op for a single process)."""
    use_cuda = torch.cuda.is_available() if use_cuda is None else use_cuda
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistInfo(device=torch.device("cuda", 0) if use_cuda else torch.device("cpu"))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process {local_rank} has no GPU (list one per process in --gpus): "
                f"{torch.cuda.device_count()} visible "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')})"
            )
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if use_cuda else "gloo", rank=rank, world_size=world_size, timeout=timedelta(minutes=30)
        )
    return DistInfo(rank, world_size, local_rank, device)


def setup_process(device: str = "auto") -> DistInfo:
    """Join torchrun's process group if there is one, on ``device``: ``auto``, ``cpu`` or ``cuda`` (under
    torchrun each process takes the GPU of its LOCAL_RANK)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ToolkitError(f"device {device!r}: use auto, cpu or cuda (each process takes its LOCAL_RANK's GPU)")
    if device == "cuda" and not torch.cuda.is_available():
        raise ToolkitError("device cuda asked for, but CUDA is not available here")
    return init_process(use_cuda=torch.cuda.is_available() if device == "auto" else device == "cuda")


@contextmanager
def process_group(device: str = "auto") -> Iterator[DistInfo]:
    """``setup_process`` for the duration of a run; the group is torn down however the run ends."""
    info = setup_process(device)
    try:
        yield info
    finally:
        cleanup()


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_gather_objects(value: Any) -> list[Any]:
    """``value`` from every rank (just ``[value]`` alone)."""
    if not dist.is_initialized():
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def mean_over_ranks(value: float, device: torch.device) -> float:
    if not dist.is_initialized():
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.item() / dist.get_world_size()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawned_entry(local_rank: int, world_size: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    fn(*args)


def spawn(fn: Callable, world_size: int, *args: Any) -> None:
    """Run ``fn(*args)`` in ``world_size`` local processes that ``init_process`` joins into one group."""
    mp.spawn(_spawned_entry, args=(world_size, free_port(), fn, args), nprocs=world_size, join=True)
