"""Steps run beside the nightly flow's thread (``pipelines.flows.nightly.Beside``): each works on
its own view of the frames it was given, is metered in its own thread, and raises its error where
the flow takes its result; leaving the block waits for it."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from pipelines.flows.nightly import Beside, StepMeter


def test_a_step_beside_keeps_its_view_of_the_frames_given() -> None:
    meter = StepMeter()
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    given = {"x": 1}
    started, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def step(f: pd.DataFrame, d: dict[str, int]) -> float:
        started.set()
        assert release.wait(5)
        seen["columns"], seen["keys"] = list(f.columns), sorted(d)
        return float(f["a"].sum())

    with Beside(meter) as beside:
        future = beside.run("sums", step, frame, given)
        assert started.wait(5)
        frame.loc[0, "a"] = 100.0  # the flow goes on changing its own frame and dict
        frame["b"] = 0.0
        given["y"] = 2
        release.set()
        assert future.result() == 3.0  # 1 + 2: the values when the step was given them
    assert seen == {"columns": ["a"], "keys": ["x"]}
    assert frame["a"].tolist() == [100.0, 2.0]


def test_a_step_beside_is_metered_in_its_thread_and_waited_for() -> None:
    meter = StepMeter()
    done: list[int] = []

    def slow() -> None:
        time.sleep(0.3)
        done.append(1)

    with Beside(meter) as beside:
        beside.run("slow", slow)
        end = time.thread_time() + 0.3
        while time.thread_time() < end:  # the flow's thread busy meanwhile
            pass
    assert done == [1]  # leaving the block waited for the step
    assert meter.seconds["slow"] >= 0.3
    assert meter.cpu_seconds["slow"] < 0.1  # its thread slept: the flow's busy thread is not counted


def test_the_error_of_a_step_beside_is_raised_where_the_flow_takes_its_result() -> None:
    def broken() -> None:
        raise OSError("disk full")

    with Beside(StepMeter()) as beside:
        future = beside.run("broken", broken)
        with pytest.raises(OSError, match="disk full"):
            future.result()
