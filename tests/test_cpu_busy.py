"""The cores other processes keep busy now (archtrain.cpu_busy), read from fake /proc files."""

import time

from archtrain import cpu_busy
from archtrain.cpu_busy import Reading, busy_between, busy_seconds, runnable_now

TICKS = cpu_busy.TICKS_PER_SECOND
STAT = """cpu  {a} 0 0 9999 0 0 0 0 0 0
cpu0 {b} 1 0 5000 700 0 2 3 0 0
cpu1 {d} 0 0 4999 0 0 0 0 0 0
intr 123 4 5
ctxt 99
"""


def stat_text(cpu0: int, cpu1: int) -> str:
    return STAT.format(a=cpu0 + cpu1, b=cpu0 - 6, d=cpu1)


def test_busy_seconds_sum_the_busy_fields_of_the_cores_this_process_may_use():
    text = stat_text(cpu0=400, cpu1=100)
    assert busy_seconds(text) == 500 / TICKS  # user, nice, system, irq, softirq, steal; not idle or iowait
    assert busy_seconds(text, cores={1}) == 100 / TICKS  # a core outside the affinity mask is someone else's


def test_other_processes_are_the_busy_time_less_this_process_own():
    before = Reading(wall=10.0, busy=100.0, own=3.0)
    # 4 s later: the cores did 6 busy seconds, 2 of them this process's (its imports): 1 core elsewhere
    assert busy_between(before, Reading(wall=14.0, busy=106.0, own=5.0)) == 1.0
    assert busy_between(before, Reading(wall=14.0, busy=101.0, own=4.5)) == 0.0  # rounding: never below zero


def test_a_process_that_ended_before_the_command_does_not_count(monkeypatch, tmp_path):
    """The load average still counts a job that finished a moment ago; two readings do not."""
    stat = tmp_path / "stat"
    stat.write_text(stat_text(cpu0=10_000, cpu1=10_000))  # the previous job's busy time is all before
    monkeypatch.setattr(cpu_busy, "own_cpu_seconds", lambda: 1.0)
    start = cpu_busy.read(stat)
    stat.write_text(stat_text(cpu0=10_000 + TICKS, cpu1=10_000))  # one busy second: this process's own
    monkeypatch.setattr(cpu_busy, "own_cpu_seconds", lambda: 2.0)
    monkeypatch.setattr(time, "monotonic", lambda: start.wall + 2.0)
    assert busy_between(start, cpu_busy.read(stat)) == 0.0


def test_busy_elsewhere_measures_since_the_previous_call_or_counts_the_running_now(monkeypatch, tmp_path):
    readings = iter([Reading(wall=5.0, busy=50.0, own=1.0), Reading(wall=5.1, busy=50.1, own=1.1)])
    monkeypatch.setattr(cpu_busy, "_previous", Reading(wall=1.0, busy=40.0, own=1.0))
    monkeypatch.setattr(cpu_busy, "read", lambda: next(readings))
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("9.37 5.13 2.77 3/148 25574\n")
    monkeypatch.setattr(cpu_busy, "runnable_now", lambda: runnable_now(loadavg))
    assert cpu_busy.busy_elsewhere() == 2.5  # 10 busy seconds in 4 s, none of them ours
    assert cpu_busy.busy_elsewhere() == 2.0  # 0.1 s later: too short to measure; 3 running now, one is us


def test_off_linux_the_load_average_is_the_fallback(monkeypatch, tmp_path):
    assert cpu_busy.read(tmp_path / "missing") is None
    monkeypatch.setattr(cpu_busy, "read", lambda: None)
    monkeypatch.setattr(cpu_busy, "runnable_now", lambda: runnable_now(tmp_path / "missing"))
    monkeypatch.setattr(cpu_busy.os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    assert cpu_busy.busy_elsewhere() == 1.25
