"""Who runs the debtor buckets: this process (``local``) or a Dask cluster (``dask``).

:func:`open_engine` gives an :class:`Engine` whose ``map(fn, book, ks, *args)`` returns
``[fn(book, k, *args) for k in ks]`` in that order. On Dask, ``book`` and ``args`` (the model, the
config) are broadcast to the workers once, then one task per bucket runs ``fn``; each worker reads
its own bucket (an ingested folder must be on storage every worker sees). Without a scheduler
address a fresh ``LocalCluster`` is started for the run and closed after it (a shared long-lived
cluster accumulates scheduler memory, prefect-dask issue 75).

Inside Prefect flows the cluster is prefect-dask's ``DaskTaskRunner`` (:func:`task_runner`), and
:class:`PrefectDaskEngine` maps Prefect tasks on it, so every bucket is a task run in the Prefect UI.
LightGBM training stays on one node: ``lightgbm.dask`` has open hang and early-stopping issues.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pipelines.engine import each_done
from pipelines.runtime import release_freed_memory

__all__ = [
    "Engine",
    "EngineSettings",
    "PrefectDaskEngine",
    "open_engine",
    "task_runner",
]


@dataclass(frozen=True)
class EngineSettings:
    """``kind``; for Dask the ``scheduler`` address, or the size of a fresh LocalCluster."""

    kind: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "4GiB"
    processes: bool = True

    @classmethod
    def from_config(
        cls, compute: Any, engine: str | None = None, scheduler: str | None = None
    ) -> EngineSettings:
        """From the project config's ``compute`` section; ``engine``/``scheduler`` (CLI) override it.
        A scheduler address implies the Dask engine."""
        kind = engine or ("dask" if scheduler else compute.engine)
        return cls(
            kind=kind,
            scheduler=scheduler or compute.scheduler,
            workers=compute.workers,
            threads_per_worker=compute.threads_per_worker,
            memory_limit=compute.memory_limit,
            processes=compute.processes,
        )

    def cluster_kwargs(self) -> dict[str, Any]:
        return {
            "n_workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "memory_limit": self.memory_limit,
            "processes": self.processes,
            "dashboard_address": ":0",  # a free port: several clusters may run side by side
        }


def _call(k: int, shared: tuple[Callable[..., Any], Any, tuple[Any, ...]]) -> Any:
    """One bucket on a Dask worker. A worker started by `ews` inherits its allocator thresholds
    (:func:`pipelines.runtime.keep_freed_memory`; they win over Dask's own trim threshold), so what
    the bucket freed is given back when it ends: else Dask's memory monitor counts it as the
    worker's unmanaged memory against ``memory_limit`` (s13-review)."""
    fn, book, args = shared
    try:
        return fn(book, k, *args)
    finally:
        release_freed_memory()


@dataclass
class Engine:
    """Maps a bucket function: in this process, or with a ``distributed.Client``."""

    kind: str
    client: Any = None

    def map(
        self,
        fn: Callable[..., Any],
        book: Any,
        ks: Sequence[int],
        *args: Any,
        on_done: Callable[[], None] = lambda: None,
    ) -> list[Any]:
        """``[fn(book, k, *args) for k in ks]`` in order; ``on_done()`` after each finished bucket."""
        if self.client is None:
            return each_done((fn(book, k, *args) for k in ks), on_done)
        from distributed import as_completed

        [shared] = self.client.scatter([(fn, book, args)], broadcast=True, hash=False)
        futures = self.client.map(_call, list(ks), shared=shared, pure=False)
        for _ in as_completed(futures):
            on_done()
        return self.client.gather(futures)


@contextmanager
def open_engine(settings: EngineSettings) -> Iterator[Engine]:
    """An :class:`Engine` for the duration of the block (a fresh LocalCluster is closed after it)."""
    if settings.kind == "local":
        yield Engine("local")
        return
    from distributed import Client, LocalCluster

    if settings.scheduler:
        with Client(settings.scheduler) as client:
            yield Engine("dask", client)
        return
    with LocalCluster(**settings.cluster_kwargs()) as cluster, Client(cluster) as client:
        yield Engine("dask", client)


def task_runner(settings: EngineSettings) -> Any:
    """prefect-dask's ``DaskTaskRunner`` for a flow run: the scheduler address, or a fresh LocalCluster."""
    from prefect_dask import DaskTaskRunner

    if settings.scheduler:
        return DaskTaskRunner(address=settings.scheduler)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=settings.cluster_kwargs())


def _share(payload: Any) -> Any:
    """Holds the book, the model and the config on the cluster once; bucket tasks read it there."""
    return payload


def _bucket(k: int, shared: Any) -> Any:
    """One debtor bucket."""
    return _call(k, shared)


@functools.cache
def _prefect_tasks() -> tuple[Any, Any]:
    """``_share`` and ``_bucket`` as Prefect tasks, made on first use: importing Prefect at module
    level cost `ews features` (local engine) the Prefect import, and Prefect's import replaces the
    root logger's handlers with its console handler."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return (
        task(name="share", cache_policy=NO_CACHE)(_share),
        task(name="bucket", cache_policy=NO_CACHE)(_bucket),
    )


class PrefectDaskEngine:
    """Maps a bucket function as Prefect tasks on the flow's ``DaskTaskRunner`` (call inside a flow
    started with :func:`task_runner`). The shared payload is one task result, fetched once per worker."""

    kind = "dask"

    def map(
        self,
        fn: Callable[..., Any],
        book: Any,
        ks: Sequence[int],
        *args: Any,
        on_done: Callable[[], None] = lambda: None,
    ) -> list[Any]:
        """``[fn(book, k, *args) for k in ks]`` in order; ``on_done()`` as each result arrives (in order)."""
        from prefect import unmapped

        share, bucket = _prefect_tasks()
        shared = share.submit((fn, book, args))
        futures = bucket.map(list(ks), unmapped(shared))
        return each_done((future.result() for future in futures), on_done)
