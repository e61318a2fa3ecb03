"""The WSGI adapters run a hook-less pipeline without an event loop; with a hook, on one."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from zego_token.integrations._endpoint import run_on_thread_loop, run_without_loop


async def _answer() -> int:
    return 42


async def _refuse() -> int:
    raise ValueError("refused")


async def _waits() -> int:
    await asyncio.sleep(0)
    return 1


def test_a_coroutine_that_never_waits_runs_in_one_step() -> None:
    assert run_without_loop(_answer()) == 42


def test_its_exception_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="refused"):
        run_without_loop(_refuse())


def test_one_that_waits_is_refused_loudly_and_closed() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would be a warning
        with pytest.raises(RuntimeError, match="waited"):
            run_without_loop(_waits())


def test_one_that_waits_runs_on_the_threads_loop() -> None:
    assert run_on_thread_loop(_waits()) == 1
