"""Run independent tasks in local processes or on a Dask cluster: the one executor of
``nam-dsp slim`` and ``nam-dsp render``.

A task is a picklable module-level function and its arguments. :func:`run_tasks` runs them

* in this process (``jobs=1``, no scheduler): progress output stays on the terminal;
* in ``jobs`` worker processes (:class:`concurrent.futures.ProcessPoolExecutor`); when a worker
  dies (killed, out of memory) the pool breaks and every unfinished task is resubmitted to a new
  pool, up to ``retries`` more times;
* on a Dask cluster (``scheduler="tcp://HOST:PORT"``, needs ``dask.distributed``: the optional
  ``[cluster]`` extra, imported only here and only then). Dask reschedules the tasks of a worker
  that dies by itself; ``retries`` also reruns a task that raised.

Results do not depend on where a task ran: each task computes from its arguments alone. A task that
raises fails alone (its :class:`Outcome` holds the error); the others finish.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from .errors import NamDspError

__all__ = ["Task", "Outcome", "run_tasks", "DEFAULT_RETRIES"]

#: Extra attempts for a task whose worker died (local) or that raised (Dask).
DEFAULT_RETRIES = 2


@dataclass
class Task:
    """``fn(*args)`` under a name unique in its batch (``key``)."""

    key: str
    fn: Callable
    args: tuple = ()


@dataclass
class Outcome:
    """What became of a task: its result, or the error that ended its last attempt."""

    key: str
    result: Any = None
    error: Optional[BaseException] = None
    attempts: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def run_tasks(tasks: Sequence[Task], *, jobs: int = 1, scheduler: Optional[str] = None,
              retries: int = DEFAULT_RETRIES,
              on_outcome: Optional[Callable[[Outcome], None]] = None) -> Dict[str, Outcome]:
    """Run ``tasks``; return ``{key: Outcome}`` in the order of ``tasks``.

    ``on_outcome`` is called in this process as each task ends (for progress lines).
    """
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    if scheduler:
        done = _run_dask(tasks, scheduler, retries, on_outcome)
    elif jobs <= 1:
        done = _run_here(tasks, on_outcome)
    else:
        done = _run_processes(tasks, jobs, retries, on_outcome)
    return {k: done[k] for k in keys}


def _finish(outcome: Outcome, done: dict, on_outcome) -> None:
    done[outcome.key] = outcome
    if on_outcome is not None:
        on_outcome(outcome)


def _run_here(tasks, on_outcome) -> dict:
    done = {}
    for task in tasks:
        t0 = time.perf_counter()
        try:
            outcome = Outcome(task.key, result=task.fn(*task.args))
        except Exception as exc:  # a failed task fails alone (reported with its key)
            outcome = Outcome(task.key, error=exc)
        outcome.seconds = time.perf_counter() - t0
        _finish(outcome, done, on_outcome)
    return done


def _run_processes(tasks, jobs: int, retries: int, on_outcome) -> dict:
    done: dict = {}
    attempts = {t.key: 0 for t in tasks}
    pending: List[Task] = list(tasks)
    while pending:
        started = {}
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(pending)))
        futures = {}
        for task in pending:
            attempts[task.key] += 1
            futures[pool.submit(task.fn, *task.args)] = task
            started[task.key] = time.perf_counter()
        broken: List[Task] = []
        waiting = set(futures)
        while waiting:
            finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for future in finished:
                task = futures[future]
                seconds = time.perf_counter() - started[task.key]
                try:
                    outcome = Outcome(task.key, result=future.result(), attempts=attempts[task.key],
                                      seconds=seconds)
                except BrokenProcessPool as exc:
                    # a worker died: this task may have been the one running there, or just
                    # queued behind it; either way it has not finished
                    if attempts[task.key] <= retries:
                        broken.append(task)
                        continue
                    outcome = Outcome(task.key, error=NamDspError(
                        f"its worker process died {attempts[task.key]} times ({exc})"),
                        attempts=attempts[task.key], seconds=seconds)
                except Exception as exc:
                    outcome = Outcome(task.key, error=exc, attempts=attempts[task.key], seconds=seconds)
                _finish(outcome, done, on_outcome)
        pool.shutdown(wait=True, cancel_futures=True)
        order = {t.key: i for i, t in enumerate(tasks)}
        pending = sorted(broken, key=lambda t: order[t.key])
    return done


def _run_dask(tasks, scheduler: str, retries: int, on_outcome) -> dict:
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:
        raise NamDspError(f"--scheduler {scheduler}: needs dask.distributed ({exc}); install it with "
                          "pip install 'nam_dsp[cluster]'") from None
    done: dict = {}
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise NamDspError(f"--scheduler {scheduler}: cannot connect to the Dask scheduler ({exc})") from None
    try:
        t0 = time.perf_counter()
        futures = {}
        for task in tasks:
            future = client.submit(task.fn, *task.args, key=f"nam-dsp-{task.key}-{time.time_ns()}",
                                   retries=retries, pure=False)
            futures[future] = task
        for future in as_completed(list(futures)):
            task = futures[future]
            seconds = time.perf_counter() - t0
            try:
                outcome = Outcome(task.key, result=future.result(), seconds=seconds)
            except Exception as exc:  # the task raised after its retries, or its workers kept dying
                outcome = Outcome(task.key, error=exc, seconds=seconds)
            _finish(outcome, done, on_outcome)
    finally:
        client.close()
    return done
