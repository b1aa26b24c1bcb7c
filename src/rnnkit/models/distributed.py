"""Multi-process training launched by ``torchrun --nproc_per_node N``.

``fit`` calls :func:`setup` when torchrun's environment (``WORLD_SIZE`` > 1) is
present: it joins the process group (gloo on CPU, NCCL on CUDA), and training
runs the model through ``DistributedDataParallel``, which averages gradients.
Each global batch of ``batch_size`` samples is split across the processes
(process r takes samples r, r + N, ...), so with equal shards the averaged
gradient is the single-process one and the loss curve follows it. Metrics are
summed across processes before they are reported; only rank 0 prints and writes.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def env_world() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) when not launched by it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single-process run): the one process that prints and writes."""
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join the process group if torchrun launched us; return the device this process should use."""
    _, world, local = env_world()
    if world <= 1 or not dist.is_available():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def all_reduce_sum(tensors: list[torch.Tensor]) -> None:
    """Sum tensors in place over every process (one collective for all of them)."""
    if not is_distributed() or not tensors:
        return
    # one device for the collective: CUDA if any tensor is there (NCCL needs it), else CPU
    device = next((t.device for t in tensors if t.is_cuda), torch.device("cpu"))
    flat = torch.stack([t.detach().reshape(()).to(device, torch.float64) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    for t, v in zip(tensors, flat, strict=True):
        t.copy_(v.to(t.dtype))


def any_process(flag: bool, device: torch.device | None = None) -> bool:
    """True on every process when ``flag`` is True on any of them (one collective)."""
    if not is_distributed():
        return flag
    t = torch.tensor(float(flag), device=device)  # NCCL reduces CUDA tensors only: the model's device
    all_reduce_sum([t])
    return bool(t.item() > 0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (call at the end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        # Every rank reaches this point before any tears down: a rank destroying the group while
        # another still talks to it (rank 0 writes checkpoints and results last) aborted with
        # "terminate called without an active exception" under load.
        dist.barrier()
        dist.destroy_process_group()
