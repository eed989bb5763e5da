"""Data-parallel training on the CPU cores of one machine, without ``torchrun``.

Why: a small GRU or Conformer spends most of a CPU training step in small matrix products
(one per time step for a GRU) that two threads barely speed up. On a 2-core machine, two
single-threaded processes that each train on half of every batch, with gradients averaged by
:class:`torch.nn.parallel.DistributedDataParallel` over gloo, train about 1.4x faster than one
two-threaded process (``asrlab bench`` measures both).

:func:`run_data_parallel` starts ``processes`` workers with the environment that ``torchrun``
would give them (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). It returns rank 0's
result.

:class:`Distributed` says where a process sits in such a job: a launched process reads it from
that environment (:meth:`Distributed.from_env`) and gives it to :func:`asrlab.train.fit`, which
joins the process group and wraps the model in DistributedDataParallel.
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


@dataclass(frozen=True)
class Distributed:
    """This process's place in a data-parallel job (one process, the default, is no job at all).

    Attributes:
        rank: this process's index, 0 to ``world_size - 1``; only rank 0 writes files.
        world_size: processes in the job.
        local_rank: index on this machine (its CUDA device).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} of world size {self.world_size} is impossible: "
                             "need world_size >= 1 and 0 <= rank < world_size")

    @property
    def enabled(self) -> bool:
        """More than one process: gradients are averaged across them."""
        return self.world_size > 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Distributed":
        """What ``torchrun`` (or :func:`run_data_parallel`) told this process: ``RANK``,
        ``WORLD_SIZE`` and ``LOCAL_RANK``; a single process when ``WORLD_SIZE`` is unset or 1."""
        env = os.environ if environ is None else environ
        world = int(env.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(env.get("RANK", "0")), world, int(env.get("LOCAL_RANK", "0")))

    def start(self) -> "Distributed":
        """Join the job's process group (gloo on the CPU, NCCL with CUDA) unless already joined.

        The group's address comes from ``MASTER_ADDR`` and ``MASTER_PORT``. Returns the rank and
        world size the group reports. A single process joins nothing and is returned as it is.
        """
        if not self.enabled:
            return self
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", rank=self.rank,
                                    world_size=self.world_size)
        return Distributed(dist.get_rank(), dist.get_world_size(), self.local_rank)


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, world: int, port: int, threads: int, fn: Callable[..., Any],
            args: tuple[Any, ...], results: Any) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                       "OMP_NUM_THREADS": str(threads)})
    torch.set_num_threads(threads)
    try:
        value = fn(*args)
        results.put((rank, "ok", value if rank == 0 else None))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises
        results.put((rank, "error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))
        raise
    finally:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()


def _call_and_report(fn: Callable[..., Any], args: tuple[Any, ...], results: Any) -> None:
    try:
        results.put(("ok", fn(*args)))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises
        results.put(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))


def run_in_subprocess(fn: Callable[..., Any], args: tuple[Any, ...] = (),
                      env: dict[str, str] | None = None) -> Any:
    """Run ``fn(*args)`` in one fresh spawned process whose environment adds ``env``.

    For settings that a library reads once when it loads, such as ``OMP_WAIT_POLICY`` for
    OpenMP, which a running process cannot change. Returns ``fn``'s (picklable) result.
    """
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    try:
        process = context.Process(target=_call_and_report, args=(fn, args, results))
        process.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    while results.empty() and process.is_alive():
        time.sleep(0.05)
    process.join()
    if results.empty():
        raise RuntimeError(f"the subprocess died with exit code {process.exitcode}")
    status, value = results.get()
    if status == "error":
        raise RuntimeError(f"the subprocess failed:\n{value}")
    return value


def run_data_parallel(fn: Callable[..., Any], args: tuple[Any, ...] = (), processes: int = 2,
                      threads_per_process: int = 1) -> Any:
    """Run ``fn(*args)`` in ``processes`` spawned workers as one data-parallel job.

    ``fn`` must be a module-level function (it is pickled) that calls :func:`asrlab.train.fit`
    (which reads the workers' place in the job with :meth:`Distributed.from_env`); only rank 0
    writes files. With ``processes == 1`` it runs here, in this process.

    Returns:
        what ``fn`` returned on rank 0 (it must be picklable).

    Raises:
        RuntimeError: naming the rank and carrying its traceback when a worker fails.
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    if processes == 1:
        return fn(*args)
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    port = free_port()
    workers = [context.Process(target=_worker, args=(rank, processes, port, threads_per_process, fn, args, results))
               for rank in range(processes)]
    for worker in workers:
        worker.start()
    reports: dict[int, tuple[str, Any]] = {}
    while len(reports) < processes and not any(status == "error" for status, _ in reports.values()):
        if not results.empty():
            rank, status, value = results.get()
            reports[rank] = (status, value)
            continue
        for rank, worker in enumerate(workers):
            if rank not in reports and worker.exitcode not in (None, 0) and results.empty():
                reports[rank] = ("error", f"the process died with exit code {worker.exitcode}")
        time.sleep(0.05)
    for worker in workers:
        if any(status == "error" for status, _ in reports.values()):
            worker.terminate()
        worker.join()
    for rank, (status, value) in sorted(reports.items()):
        if status == "error":
            raise RuntimeError(f"data-parallel worker {rank} of {processes} failed:\n{value}")
    return reports[0][1]
