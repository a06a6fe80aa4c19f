"""The load benchmark's parts that can be checked without a stack: the message file,
percentiles, the /proc sampler and the profile summary. (The benchmark itself is
`make bench`, never part of `make test`.)"""

from __future__ import annotations

import json
import os
import signal
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
from bench.children import MessageMix, PhaseResult
from bench.procstats import StackSampler, cpu_seconds, process_tree
from bench.profile_report import read_profiles, report


def test_message_groups_are_intents_of_the_domain_and_children_write_like_children() -> None:
    data = yaml.safe_load((REPO_ROOT / "bench" / "messages.yml").read_text(encoding="utf-8"))
    intents = set(yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])
    groups = data["groups"]
    assert {g["intent"] for g in groups} <= intents
    assert all(g["weight"] > 0 and g["messages"] for g in groups)
    texts = [m for g in groups for m in g["messages"]]
    unaccented = [t for t in texts if t.isascii()]
    # Both ways children type: with diacritics and without.
    assert 0.25 < len(unaccented) / len(texts) < 0.75
    assert any(word in t.split() for t in texts for word in ("k", "ko", "j", "dc", "bme", "e"))


def test_a_conversation_follows_the_weights() -> None:
    mix = MessageMix.load()
    rng = random.Random(1)
    drawn = [m for _ in range(3000) for m in mix.conversation(rng, length=4)]
    questions = set(next(g for g in yaml.safe_load((REPO_ROOT / "bench" / "messages.yml").read_text(
        encoding="utf-8"))["groups"] if g["intent"] == "ask_rights")["messages"])
    share = sum(m in questions for m in drawn) / sum(m not in mix.openings + mix.closings for m in drawn)
    total_weight = sum(mix.weights)
    assert abs(share - 18 / total_weight) < 0.02


def test_nearest_rank_percentiles() -> None:
    result = PhaseResult("gateway", 1, elapsed=10.0, latencies=[i / 100 for i in range(1, 101)])
    assert result.percentile(0.5) == 0.50
    assert result.percentile(0.95) == 0.95
    assert result.percentile(0.99) == 0.99
    assert result.throughput == 10.0
    assert PhaseResult("gateway", 1).percentile(0.5) != PhaseResult("gateway", 1).percentile(0.5)  # nan


def test_the_sampler_counts_a_process_trees_cpu_and_memory() -> None:
    # A parent whose child holds 64 MiB and burns 0.6 s of CPU (however long that takes on a
    # busy machine), then says so on the stdout it shares with the parent: both are one tree.
    burn = ("b = bytearray(64 * 2**20)\nimport time\n"
            "while time.process_time() < 0.6: pass\n"
            "print('burnt', flush=True)\ntime.sleep(60)\n")
    code = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {burn!r}])\ntime.sleep(60)\n"
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        sampler = StackSampler(lambda: {"worker": parent.pid}, interval=0.1)
        try:
            sampler.begin()
            assert parent.stdout is not None and parent.stdout.readline().strip() == "burnt"
            time.sleep(0.3)  # at least one sample after the memory is in use
            usage = sampler.end()["worker"]
        finally:
            sampler.close()
        assert len(process_tree(parent.pid)) == 2
        assert 0.5 < usage.cpu_seconds < 5
        assert usage.peak_rss_mib > 64
        assert cpu_seconds(process_tree(parent.pid)) >= usage.cpu_seconds
    finally:
        for pid in reversed(process_tree(parent.pid)):
            os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_the_profile_summary_merges_replicas_and_shows_our_code(tmp_path: Path) -> None:
    for pid, busy in ((1, 60), (2, 40)):
        (tmp_path / f"rasa-{pid}.json").write_text(json.dumps({
            "process": "rasa", "busy": busy, "idle": 5,
            "self": [["tensorflow/python/eager/execute.py:quick_execute", busy // 2]],
            "total": [["nlu/triage.py:process", busy // 4], ["rasa/core/agent.py:handle_message", busy]]}))
    profiles = read_profiles(tmp_path)
    assert profiles["rasa"].busy == 100
    text = report(profiles)
    assert "50.0%  tensorflow/python/eager/execute.py:quick_execute" in text
    assert "25.0%  nlu/triage.py:process" in text
    assert "rasa/core/agent.py" not in text.split("our code")[1]


def test_the_stack_profiler_samples_busy_threads_only_while_switched_on(tmp_path: Path) -> None:
    code = ("import time\n"
            "def crunch_numbers():\n"
            "    end = time.time() + 4\n"
            "    while time.time() < end: sum(range(1000))\n"
            "time.sleep(0.5)\n"
            "crunch_numbers()\n"
            "time.sleep(2.5)\n")
    (tmp_path / "on").touch()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "bench" / "profiling"), "BENCH_PROFILE_DIR": str(tmp_path),
           "BENCH_PROFILE_NAME": "worker"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=30)
    profiles = read_profiles(tmp_path)
    worker = profiles["worker"]
    top_label, top_count = worker.self_counts.most_common(1)[0]
    assert top_label == "<string>:crunch_numbers" and worker.share(top_count) > 80
    assert worker.idle > 0  # the sleeps were seen and not counted as work
