"""bench/chaos.py's over-admission count, on answers made up here from a limiter that counts
exactly (fixed windows opened by a key's first request, decisions anywhere between a request's
send and answer), then from one that admits too many in a window, and from one whose window
closes two seconds early. The 10-minute run itself is run by hand (docs/security.md)."""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "chaos.py"


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def answers(
    chaos: ModuleType, seed: int, *, extra_at: float = -1.0, early_at: float = -1.0
) -> list[object]:
    """300 s of one identity at about 40 requests a second, a few of them slow; the window
    holding ``extra_at`` admits 27 too many, the window opening after ``early_at`` closes 2 s
    early."""
    rng = random.Random(seed)
    requests, sent = [], 0.0
    while sent < 300:
        sent += rng.expovariate(40)
        latency = rng.uniform(0.001, 0.05) if rng.random() > 0.02 else rng.uniform(0.3, 1.2)
        requests.append((sent + rng.uniform(0, latency), sent, sent + latency))
    requests.sort()  # in the order the server decided them
    start, end, count, limit, outcomes = -1e9, -1e9, 0, chaos.LIMIT, []
    for decided, sent, done in requests:
        if decided >= end:
            start, count = decided, 0
            end = start + chaos.WINDOW - (2.0 if start > early_at >= 0 else 0.0)
            if start > early_at >= 0:
                early_at = -1.0
            limit = chaos.LIMIT + (27 if start <= extra_at < end else 0)
        count += 1
        outcome = chaos.Outcome(sent, done, "api_key", "backend", 200 if count <= limit else 429)
        if count > limit:
            outcome.retry_after = max(1, math.ceil(end - decided))
        outcomes.append(outcome)
    return outcomes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_exact_limiter_shows_no_over_admission(chaos: ModuleType, seed: int) -> None:
    over, ambiguous, windows, short = chaos.over_admission(answers(chaos, seed), 0.0)
    assert (over, windows, short) == (0, [], [])
    assert ambiguous < 20


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_window_admitting_27_too_many_is_found(chaos: ModuleType, seed: int) -> None:
    over, _, windows, short = chaos.over_admission(answers(chaos, seed, extra_at=100.0), 0.0)
    assert 20 <= over <= 27 and len(windows) == 1 and short == []  # a few are ambiguous


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_window_closing_2_s_early_is_reported(chaos: ModuleType, seed: int) -> None:
    outcomes = answers(chaos, seed, early_at=100.0)
    over, _, _, short = chaos.over_admission(outcomes, 0.0)
    assert over == 0 and len(short) == 1
    # The client-side count takes the next window's first admissions for this one's.
    assert chaos.over_admission_client_windows(outcomes, 0.0)[0] > 0
