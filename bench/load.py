"""Many children at once: throughput, latency, CPU and memory of the full stack.

    <app python> bench/load.py [--model models/x.tar.gz] [--levels 10,50,200] [--duration 60]
                               [--think 5,15] [--stress 1:0.3-0.3,50:1-3] [--quick] [--no-scaling]
                               [--no-profile] [--startup]

Starts the real stack on free loopback ports in its production shape (app
database and Rasa's tracker on PostgreSQL in fresh databases, shared state and
Rasa's lock store on Redis under a fresh key prefix, GATEWAY_WORKERS gateway
workers), then, for each concurrency level N:

  1. N simulated children talk to the gateway's web chat API for DURATION s
     (messages from bench/messages.yml, think time between messages: by default
     5-15 s, uniformly drawn, a child reading the reply and typing the next
     message on a phone);
  2. the same N children, same script, talk to the same Rasa server(s) directly
     through Rasa's REST channel (/webhooks/rest/webhook): plain Rasa, no gateway.

Stress rows (--stress, labelled with their think time, not the realistic load):
the same pair of phases with a short think time, e.g. one child alone sending
every 0.3 s (the gateway's fixed cost per turn) and 50 children thinking 1-3 s.

Then, with no think time (saturation): the throughput of one Rasa process, a
profile of every process while saturated, and the same with two Rasa processes
(a second stack), for the 1 -> 2 scaling ratio. Prints markdown tables:
latency p50/p95/p99 and throughput per N and target, our overhead as a ratio
to plain Rasa, CPU seconds and peak memory per process per phase, the scaling
ratio, the profile, model size, start-up times, and the load average.

Rate limits are raised for the run: every simulated child shares 127.0.0.1, so
the per-address limit would otherwise answer 429 to the crowd. Everything stays
on loopback; the databases and Redis keys it creates are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from cryptography.fernet import Fernet  # noqa: E402
from children import GatewayWebChat, MessageMix, PhaseResult, PlainRasaRest, Target, run_phase  # noqa: E402
from procstats import ProcessUsage, StackSampler, this_process_cpu  # noqa: E402
from profile_report import read_profiles, report  # noqa: E402

from devtools.ports import free_ports  # noqa: E402
from devtools.stack import Stack, default_python, newest_model  # noqa: E402

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PROFILE_SWITCH = "on"
TARGETS = {"p50_ratio": 1.3, "p95_ms_at_50": 300.0, "scaling": 1.6}


@dataclass
class Phase:
    label: str
    result: PhaseResult
    usage: dict[str, ProcessUsage]
    client_cpu: float
    load: float
    think: tuple[float, float] = (0.0, 0.0)


@dataclass
class Report:
    phases: list[Phase] = field(default_factory=list)
    saturation: dict[int, dict[str, Phase]] = field(default_factory=dict)  # rasa processes -> target -> phase
    startup: dict[str, float] = field(default_factory=dict)
    idle_rss: dict[str, float] = field(default_factory=dict)
    profile: str = ""
    loads: list[float] = field(default_factory=list)


# ---- the stack in its production shape ------------------------------------------------------


@contextlib.contextmanager
def fresh_databases(tag: str) -> Iterator[dict[str, str]]:
    """Two new PostgreSQL databases (app, Rasa tracker), dropped afterwards."""
    import psycopg

    names = {"app": f"bench_{tag}_app", "tracker": f"bench_{tag}_tracker"}
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {kind: f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" for kind, name in names.items()}
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forget_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        client.delete(key)


def make_stack(model: Path, data_dir: Path, urls: dict[str, str], *, rasa_processes: int, gateway_workers: int,
               redis_prefix: str, profile_dir: Path | None, keys: dict[str, str]) -> Stack:
    env = {
        # Both stacks of a run share its databases, so they share its keys: a gateway refuses a
        # database its keys cannot read (bot.db.check_keys).
        **keys,
        "STAFFED_HOURS": "always",
        "REDIS_KEY_PREFIX": redis_prefix,
        # One client address for every child: lift the per-address and per-person limits.
        "RATE_LIMIT_BURST": "10000",
        "RATE_LIMIT_PER_MINUTE": "60000",
        # The latency of real answers under load: no busy reply (bot/admission.py) in their place.
        "RASA_MAX_IN_FLIGHT": "1000", "RASA_REPLY_DEADLINE_SECONDS": "300",
        "BENCH_REPO_ROOT": str(REPO_ROOT),
    }
    if profile_dir is not None:
        env["BENCH_PROFILE_DIR"] = str(profile_dir)
    # Runs of consecutive ports: the second Rasa server and gateway worker take the port after the first.
    rasa_port, actions_port, bot_port = free_ports(rasa_processes, 1, gateway_workers)
    return Stack(model=model, engine_python=default_python("engine"), data_dir=data_dir,
                 rasa_port=rasa_port, actions_port=actions_port, bot_port=bot_port,
                 rasa_processes=rasa_processes, gateway_workers=gateway_workers,
                 app_database_url=urls["app"], rasa_tracker_url=urls["tracker"], redis_url=REDIS_URL,
                 extra_env=env, extra_pythonpath=[REPO_ROOT / "bench" / "profiling"] if profile_dir else ())


def ports_of(stack: Stack) -> dict[str, int]:
    return stack.processes_info()


def warm_up(stack: Stack, mix: MessageMix) -> None:
    """First messages load lazily-built parts (KB index, TF graphs): not part of any phase."""
    for target in (GatewayWebChat(stack.bot_urls), PlainRasaRest(stack.rasa_urls)):
        asyncio.run(run_phase(target, children=len(target.base_urls) * 2, duration=4.0, think=(0.1, 0.2), mix=mix))


def settle(sampler: StackSampler, limit: float = 180.0) -> None:
    """Wait until the stack is idle: children the client gave up on (timeouts) may still be
    queued in Rasa and the gateway, and that backlog must not count against the next phase."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        sampler.begin()
        time.sleep(1.0)
        if sum(u.cpu_seconds for u in sampler.end().values()) < 0.15:  # under 15% of one core
            return
    print(f"  (the stack was still busy after {limit:.0f} s; measuring anyway)", flush=True)


def measure(label: str, target: Target, children: int, duration: float, think: tuple[float, float],
            mix: MessageMix, sampler: StackSampler) -> Phase:
    settle(sampler)
    sampler.begin()
    client_before = this_process_cpu()
    result = asyncio.run(run_phase(target, children, duration, think, mix))
    usage = sampler.end()
    phase = Phase(label, result, usage, this_process_cpu() - client_before, os.getloadavg()[0], think)
    print(f"  {label:<34} {result.throughput:6.1f} msg/s  p50 {ms(result.percentile(0.5))}  "
          f"p95 {ms(result.percentile(0.95))}  errors {sum(result.errors.values())}  load {phase.load:.1f}",
          flush=True)
    return phase


# ---- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, model: Path) -> Report:
    mix = MessageMix.load()
    report_ = Report()
    think = args.think
    tag = secrets.token_hex(4)
    redis_prefix = f"bench-{tag}:"
    keys = {"CASE_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    with tempfile.TemporaryDirectory(prefix="load-bench-") as directory, fresh_databases(tag) as urls:
        profile_dir = Path(directory) / "profile"
        profile_dir.mkdir()
        try:
            # ---- one Rasa process: the levels, saturation, profile, start-up ----
            stack = make_stack(model, Path(directory) / "one", urls, rasa_processes=1,
                               gateway_workers=args.gateway_workers, redis_prefix=redis_prefix,
                               profile_dir=None if args.no_profile else profile_dir, keys=keys)
            started = time.monotonic()
            with stack:
                report_.startup["whole stack (cold, parallel)"] = time.monotonic() - started
                sampler = StackSampler(lambda: ports_of(stack))
                try:
                    time.sleep(2)
                    report_.idle_rss = {name: u.peak_rss_mib for name, u in _idle(sampler).items()}
                    warm_up(stack, mix)
                    print(f"Levels {args.levels}, {args.duration:.0f} s each, think {think[0]}-{think[1]} s:",
                          flush=True)
                    for level in args.levels:
                        for target in (GatewayWebChat(stack.bot_urls), PlainRasaRest(stack.rasa_urls)):
                            report_.phases.append(measure(f"{target.name}, {level} children", target, level,
                                                          args.duration, think, mix, sampler))
                    for level, stress_think in args.stress:
                        for target in (GatewayWebChat(stack.bot_urls), PlainRasaRest(stack.rasa_urls)):
                            report_.phases.append(measure(
                                f"stress: {target.name}, {level} children, think {_span(stress_think)} s",
                                target, level, args.duration, stress_think, mix, sampler))
                    if not args.no_scaling:
                        report_.saturation[1] = _saturate(stack, args, mix, sampler, profile_dir)
                        if not args.no_profile:
                            report_.profile = report(read_profiles(profile_dir))
                    if args.startup:
                        for name in ("actions", stack.gateway_names[0], stack.rasa_names[0]):
                            began = time.monotonic()
                            stack.restart(name)
                            report_.startup[f"{name} (restart until ready)"] = time.monotonic() - began
                finally:
                    sampler.close()
            # ---- two Rasa processes: the same saturation ----
            if not args.no_scaling:
                stack = make_stack(model, Path(directory) / "two", urls, rasa_processes=2,
                                   gateway_workers=args.gateway_workers, redis_prefix=redis_prefix,
                                   profile_dir=None, keys=keys)
                started = time.monotonic()
                with stack:
                    report_.startup["whole stack, 2 Rasa (cold, parallel)"] = time.monotonic() - started
                    sampler = StackSampler(lambda: ports_of(stack))
                    try:
                        warm_up(stack, mix)
                        report_.saturation[2] = _saturate(stack, args, mix, sampler, None)
                    finally:
                        sampler.close()
        finally:
            forget_redis_keys(redis_prefix)
    return report_


def _idle(sampler: StackSampler) -> dict[str, ProcessUsage]:
    sampler.begin()
    time.sleep(1)
    return sampler.end()


def _saturate(stack: Stack, args: argparse.Namespace, mix: MessageMix, sampler: StackSampler,
              profile_dir: Path | None) -> dict[str, Phase]:
    """No think time: as many messages as the stack can take, from `saturate` children."""
    rasa = len(stack.rasa_urls)
    phases = {}
    switch = profile_dir / PROFILE_SWITCH if profile_dir else None
    if switch:
        switch.touch()  # profile the saturated gateway run only
    try:
        phases["gateway"] = measure(f"saturated gateway, {rasa} Rasa", GatewayWebChat(stack.bot_urls),
                                    args.saturate, args.duration, (0.0, 0.0), mix, sampler)
    finally:
        if switch:
            switch.unlink()
            time.sleep(2.5)  # the profilers' last dump
    phases["plain Rasa"] = measure(f"saturated plain Rasa, {rasa} Rasa", PlainRasaRest(stack.rasa_urls),
                                   args.saturate, args.duration, (0.0, 0.0), mix, sampler)
    return phases


# ---- tables --------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.0f} ms"


def print_report(report_: Report, args: argparse.Namespace, model: Path) -> None:
    loads = [p.load for p in report_.phases] + [p.load for s in report_.saturation.values() for p in s.values()]
    print(f"\n## Load benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {os.cpu_count()} cores, {_memory_gib():.0f} GiB, {platform.platform()}; load average "
          f"(1 min) during the phases {min(loads):.1f}-{max(loads):.1f}" if loads else "")
    print(f"stack: gateway workers {args.gateway_workers}, PostgreSQL + Redis; think time {args.think[0]}-"
          f"{args.think[1]} s; {args.duration:.0f} s per phase\n")

    print("| children | think time | target | messages | errors | msg/s | p50 | p95 | p99 | p50 ratio | p95 ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    by_level: dict[tuple[int, tuple[float, float]], dict[str, PhaseResult]] = {}
    for phase in report_.phases:
        by_level.setdefault((phase.result.children, phase.think), {})[phase.result.target] = phase.result
    for (level, level_think), results in by_level.items():
        stress = "" if level_think == tuple(args.think) else " (stress)"
        plain = results.get("plain Rasa")
        for name, result in results.items():
            ratios = ("", "")
            if name == "gateway" and plain and plain.latencies and result.latencies:
                ratios = (f"{result.percentile(0.5) / plain.percentile(0.5):.2f}x",
                          f"{result.percentile(0.95) / plain.percentile(0.95):.2f}x")
            print(f"| {level} | {_span(level_think)} s{stress} | {name} | {len(result.latencies)} | {_errors(result)} | {result.throughput:.1f} | "
                  f"{ms(result.percentile(0.5))} | {ms(result.percentile(0.95))} | {ms(result.percentile(0.99))} | "
                  f"{ratios[0]} | {ratios[1]} |")
    at_50 = by_level.get((50, tuple(args.think)), {})
    if "gateway" in at_50 and "plain Rasa" in at_50 and at_50["plain Rasa"].latencies:
        ratio = at_50["gateway"].percentile(0.5) / at_50["plain Rasa"].percentile(0.5)
        p95 = at_50["gateway"].percentile(0.95) * 1000
        print(f"\nTargets at 50 children: p50 ratio {ratio:.2f}x (target <= {TARGETS['p50_ratio']}x: "
              f"{'met' if ratio <= TARGETS['p50_ratio'] else 'NOT met'}); gateway p95 {p95:.0f} ms (target <= "
              f"{TARGETS['p95_ms_at_50']:.0f} ms: {'met' if p95 <= TARGETS['p95_ms_at_50'] else 'NOT met'})")

    all_phases = report_.phases + [p for s in report_.saturation.values() for p in s.values()]
    names = sorted({name for phase in all_phases for name in phase.usage})
    print("\nCPU seconds / peak resident memory per process and phase (the load generator's own CPU last):\n")
    print("| phase | " + " | ".join(names) + " | load generator |")
    print("|---|" + "---|" * (len(names) + 1))
    for phase in all_phases:
        cells = [f"{phase.usage[n].cpu_seconds:.1f} s / {phase.usage[n].peak_rss_mib:.0f} MiB" if n in phase.usage
                 else "" for n in names]
        print(f"| {phase.label} | " + " | ".join(cells) + f" | {phase.client_cpu:.1f} s |")

    print("\nCPU milliseconds per answered message, by kind of process (the cost of one turn):\n")
    kinds = sorted({_kind(n) for n in names})
    print("| phase | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for phase in all_phases:
        answered = len(phase.result.latencies) or 1
        per_kind = {k: sum(u.cpu_seconds for n, u in phase.usage.items() if _kind(n) == k) for k in kinds}
        print(f"| {phase.label} | " + " | ".join(f"{per_kind[k] * 1000 / answered:.0f}" for k in kinds) + " |")

    if report_.saturation:
        print("\nSaturation (no think time, "
              f"{args.saturate} children), one versus two Rasa processes:\n")
        print("| target | 1 Rasa msg/s | 2 Rasa msg/s | ratio | 1 Rasa p50 | 2 Rasa p50 |")
        print("|---|---|---|---|---|---|")
        for target in ("gateway", "plain Rasa"):
            one = report_.saturation.get(1, {}).get(target)
            two = report_.saturation.get(2, {}).get(target)
            if one and two:
                ratio = two.result.throughput / one.result.throughput if one.result.throughput else float("nan")
                print(f"| {target} | {one.result.throughput:.1f} | {two.result.throughput:.1f} | {ratio:.2f}x | "
                      f"{ms(one.result.percentile(0.5))} | {ms(two.result.percentile(0.5))} |")
        print(f"(target for 1 -> 2 Rasa processes: >= {TARGETS['scaling']}x)")

    print("\nModel, start-up, memory at rest:\n")
    print(f"- model {model.name}: {model.stat().st_size / 2**20:.1f} MiB")
    for name, seconds in report_.startup.items():
        print(f"- start-up, {name}: {seconds:.1f} s")
    for name, rss in sorted(report_.idle_rss.items()):
        print(f"- resident memory at rest, {name}: {rss:.0f} MiB")
    if report_.profile:
        print("\nProfile of the saturated gateway run (stdlib sampler, bench/profiling/):" + report_.profile)


def _kind(process_name: str) -> str:
    """"rasa-1" -> "rasa", "gateway-0" -> "gateway": replicas of one kind added together."""
    return process_name.partition("-")[0]


def _errors(result: PhaseResult) -> str:
    total = sum(result.errors.values())
    return "0" if not total else f"{total} ({', '.join(f'{k}: {v}' for k, v in result.errors.most_common(3))})"


def _memory_gib() -> float:
    with open("/proc/meminfo") as meminfo:
        return int(meminfo.readline().split()[1]) / 2**20


def measure_training(output: Path) -> float:
    """Train from scratch: an empty model directory (no content-hash hit) and an empty
    Rasa training cache (no component restored from an earlier training)."""
    began = time.monotonic()
    subprocess.run([default_python("engine"), str(REPO_ROOT / "scripts" / "train_model.py"), "--out", str(output)],
                   cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(REPO_ROOT),
                        "RASA_CACHE_DIRECTORY": str(output / "cache")})
    return time.monotonic() - began


# ---- command line ----------------------------------------------------------------------------------


def _pair(raw: str) -> tuple[float, float]:
    low, _, high = raw.partition(",")
    pair = (float(low), float(high or low))
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError("think time: MIN,MAX seconds with 0 <= MIN <= MAX")
    return pair


def _span(think: tuple[float, float]) -> str:
    return f"{think[0]:g}" if think[0] == think[1] else f"{think[0]:g}-{think[1]:g}"


def _stress(raw: str) -> list[tuple[int, tuple[float, float]]]:
    """`1:0.3-0.3,50:1-3` -> [(1, (0.3, 0.3)), (50, (1.0, 3.0))]; empty = no stress rows."""
    rows = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        children, _, span = item.partition(":")
        rows.append((int(children), _pair(span.replace("-", ",") or "0")))
    return rows


def _levels(raw: str) -> list[int]:
    return [int(level) for level in raw.split(",") if level.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="trained model; default: the newest in models/")
    parser.add_argument("--levels", type=_levels, default=[10, 50, 200], help="concurrent children, e.g. 10,50,200")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--think", type=_pair, default=(5.0, 15.0),
                        help="think time MIN,MAX seconds, uniform (default 5,15: reading and typing on a phone)")
    parser.add_argument("--stress", type=_stress, default=_stress("1:0.3-0.3,50:1-3"),
                        help="extra rows with a short think time, CHILDREN:MIN-MAX,... (default 1:0.3-0.3,50:1-3;"
                             " empty for none)")
    parser.add_argument("--quick", action="store_true",
                        help="a short round: 15 s phases, think 0.2-0.6 s, levels 10,50")
    parser.add_argument("--saturate", type=int, default=16, help="children with no think time for saturation")
    parser.add_argument("--gateway-workers", type=int, default=2)
    parser.add_argument("--no-scaling", action="store_true", help="skip saturation and the 2-Rasa stack")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--startup", action="store_true", help="also time restarting each process")
    parser.add_argument("--train", action="store_true", help="also time a training from scratch (minutes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.think, args.levels, args.stress = 15.0, (0.2, 0.6), [10, 50], []

    model = args.model or newest_model()
    if model is None:
        print("No model: run `make train` first.", file=sys.stderr)
        return 2
    if shutil.which("psql") is None and not _postgres_reachable():
        print("PostgreSQL on 127.0.0.1:5432 is needed (the production configuration).", file=sys.stderr)
        return 2
    report_ = run(args, Path(model))
    print_report(report_, args, Path(model))
    if args.train:
        with tempfile.TemporaryDirectory(prefix="train-bench-") as out:
            print(f"- training from scratch: {measure_training(Path(out)):.0f} s")
    return 0


def _postgres_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(POSTGRES_ADMIN, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
