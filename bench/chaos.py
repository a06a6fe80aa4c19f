"""Faults under load: the production shape under 50 children while its parts die, then the invariants.

    <app python> bench/chaos.py [--model models/x.tar.gz] [--minutes 10] [--children 50] [--seed 17]
                                [--think 5,15] [--telegram-share 0.4]

`make chaos` runs it (CHAOS_ARGS="--minutes 2" for a short round). Starts, each on free
loopback ports (devtools/ports.py):

- a private PostgreSQL cluster (initdb into a temporary directory; bench/chaos_services.py)
  holding the app database and Rasa's tracker, and a private Redis (lock store, shared
  state): the machine's own servers serve other people's tests and are never touched;
- a fake Telegram (devtools/fake_telegram.py) in webhook mode, able to fail on purpose;
- the stack in its production shape (devtools/stack.py): two Rasa servers, two gateway
  workers, the action server; admission control as configured for production (at most 8
  Rasa calls per worker, the busy reply with 111 after 4 s).

Then, for --minutes, CHILDREN simulated children talk (bench/messages.yml; think time
--think): some on the web chat (POST to a random live worker; a refused connection goes to
the other worker, as a load balancer would; any other failure is what the chat page shows
as its own apology with 111 and is not sent again), the others on Telegram (updates
through the webhook, redelivered until a worker takes them, replies through the outbox).
Some disclose imminent danger (a case opens at once); two counsellors in the console (over
HTTP, on either worker) take every waiting case, answer every message of the child, and
close the case after a while; some children ask "xóa dữ liệu của em" (forget me); a few
conversations are backdated 40 days so that retention (every 60 s here) must delete them.

Meanwhile, at times drawn from --seed (one fault per slot of the fault window, so each
one's effect can be told apart), one at a time:

  kill a Rasa server       SIGKILL; restarted (Stack.restart) as soon as it is seen dead
  kill a gateway worker    SIGKILL; restarted likewise
  kill the action server   SIGKILL; restarted likewise (devtools/stack.py's own supervision,
                           Stack.revive, restarts only a Rasa server or gateway worker of several,
                           one at a time, and stops the stack when the action server dies)
  crash PostgreSQL         `pg_ctl stop -m immediate` (connections cut, crash recovery at
                           start), down for --postgres-down seconds, started again
  stop Redis               killed, down --redis-down seconds (30), an empty one started
  platform outage          Telegram's sendMessage answers 429 (retry_after 5) for 20 s,
                           then 500 for 40 s: the outbox fills, then must drain

After --minutes the children stop, the counsellors close what they hold, and the run waits
for recovery (outbox and webhook intake drained, forget requests carried out, retention
done). Then it checks the invariants (bench/chaos_checks.py) and prints a markdown table:
every child message stored exactly once and in order; every one answered (bot, counsellor,
or the apology with 111), none handled twice (Rasa's tracker); no case lost or opened twice;
no conversation a counsellor held answered by the bot; the outbox drained with every
message received exactly once by the platform (counted at the fake); forget-me and
retention complete. Exit status 1 if any invariant failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import signal
import string
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from chaos_checks import (  # noqa: E402
    Hold, Sent, Stored, align, answered_by_bot_while_held, answers, sends, sent_to_rasa_twice)
from chaos_services import FlakyTelegram, PrivatePostgres, PrivateRedis  # noqa: E402
from children import MessageMix  # noqa: E402

from devtools.ports import free_ports  # noqa: E402
from devtools.stack import Stack, StackError, default_python, newest_model  # noqa: E402

DISCLOSURE = "em muon chet ngay bay gio, em dang cam dao"
FORGET_ME = "xóa dữ liệu của em"
PASSWORD = "mat-khau-chaos-" + secrets.token_hex(8)
STAFF = (("lan", "Lan"), ("ha", "Hà"))
STAFF_CAPACITY = 20
TELEGRAM_CHAT_BASE = 880_000_000
WEB_TIMEOUT_SECONDS = 60.0
TELEGRAM_REPLY_WAIT_SECONDS = 90.0
RETENTION_CHECK_SECONDS = 60
RETENTION_SEEDS = 4
BACKDATE_DAYS = 40
ALPHABET = string.ascii_letters + string.digits + "_-"
FAULTS = ("kill a Rasa server", "kill a gateway worker", "kill the action server", "crash PostgreSQL",
          "stop Redis", "platform outage (429, then 500)")


def utc() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S")


# ---- what happened ------------------------------------------------------------------------------


@dataclass
class Child:
    index: int
    channel: str  # "web" | "telegram"
    external_id: str
    role: str  # "talker" | "discloser" | "forgetter"
    sent: list[Sent] = field(default_factory=list)
    refused: int = 0  # web: connection refused by a dead worker, sent to the other one
    in_doubt: Counter[str] = field(default_factory=Counter)  # web: failed requests by kind
    forgotten: bool = False
    waited_out: int = 0  # telegram: no reply within TELEGRAM_REPLY_WAIT_SECONDS (checked later)

    @property
    def sender_id(self) -> str:
        return f"{self.channel}:{self.external_id}"


@dataclass
class FaultRecord:
    name: str
    planned: float
    started: float = 0.0
    ended: float = 0.0
    detail: str = ""
    started_utc: str = ""


@dataclass
class Journal:
    started: float = field(default_factory=time.monotonic)
    faults: list[FaultRecord] = field(default_factory=list)
    restarts: list[tuple[str, float, float]] = field(default_factory=list)  # name, died seen, ready
    notes: list[str] = field(default_factory=list)
    counsellor: Counter[str] = field(default_factory=Counter)
    details: dict[str, Any] = field(default_factory=dict)  # conversation -> what went wrong (--keep-logs)

    def now(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        line = f"[{self.now():6.0f} s] {text}"
        self.notes.append(line)
        print(line, flush=True)


# ---- the children -------------------------------------------------------------------------------


class Crowd:
    def __init__(self, args: argparse.Namespace, stack: Stack, telegram: FlakyTelegram, journal: Journal,
                 mix: MessageMix) -> None:
        self.args = args
        self.stack = stack
        self.telegram = telegram
        self.journal = journal
        self.mix = mix
        self.children: list[Child] = []
        rng = random.Random(args.seed)
        roles = ["discloser"] * args.disclosers + ["forgetter"] * args.forgetters
        roles += ["talker"] * (args.children - len(roles))
        rng.shuffle(roles)
        telegram_count = round(args.children * args.telegram_share)
        for index, role in enumerate(roles):
            channel = "telegram" if index < telegram_count else "web"
            external = (str(TELEGRAM_CHAT_BASE + index) if channel == "telegram"
                        else "chaos" + "".join(rng.choice(ALPHABET) for _ in range(24)))
            self.children.append(Child(index, channel, external, role))

    def script(self, child: Child, rng: random.Random) -> list[str]:
        """Enough messages for the whole run, none repeated while the mix has new ones."""
        opening = "/start" if child.channel == "telegram" else rng.choice(self.mix.openings)
        texts, used = [opening], {opening}
        pool = [(text, weight / len(group)) for group, weight in zip(self.mix.groups, self.mix.weights)
                for text in group]
        for _ in range(200):
            candidates = [(t, w) for t, w in pool if t not in used] or pool
            text = rng.choices([t for t, _ in candidates], weights=[w for _, w in candidates])[0]
            used.add(text)
            texts.append(text)
        return texts

    async def run(self, deadline: float) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=2.0)
        async with httpx.AsyncClient(trust_env=False, limits=limits, timeout=WEB_TIMEOUT_SECONDS) as http:
            await asyncio.gather(*(self._child(http, child, deadline) for child in self.children))

    async def _child(self, http: httpx.AsyncClient, child: Child, deadline: float) -> None:
        rng = random.Random(self.args.seed * 100_003 + child.index)
        texts = self.script(child, rng)
        # The discloser tells at a random point of its first 8 messages; the forgetter asks to be
        # forgotten somewhere in the run, and stops.
        special_at = rng.randint(2, 8)
        forget_after = rng.uniform(0.2, 0.9) * (deadline - time.monotonic())
        forget_at = time.monotonic() + forget_after
        await asyncio.sleep(rng.uniform(0, self.args.think[1]))
        step = 0
        while time.monotonic() < deadline:
            if child.role == "forgetter" and time.monotonic() >= forget_at:
                await self._forget(http, child, deadline)
                return
            text = DISCLOSURE if child.role == "discloser" and step == special_at else texts[step % len(texts)]
            step += 1
            if child.channel == "web":
                await self._web(http, child, text, rng)
            else:
                await self._telegram(child, text)
            pause = rng.uniform(*self.args.think)
            await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        if child.role == "forgetter":  # its time came while it waited for a reply
            await self._forget(http, child, deadline)

    async def _web(self, http: httpx.AsyncClient, child: Child, text: str, rng: random.Random) -> list[dict[str, Any]]:
        workers = list(self.stack.bot_urls)
        rng.shuffle(workers)
        for attempt in range(len(workers) * 4):
            url = workers[attempt % len(workers)]
            try:
                response = await http.post(f"{url}/api/webchat/{child.external_id}/messages", json={"text": text})
            except httpx.ConnectError:
                # Never reached a worker (it is dead): a load balancer sends it to another one.
                child.refused += 1
                await asyncio.sleep(0.5 if attempt % len(workers) == len(workers) - 1 else 0)
                continue
            except httpx.HTTPError as error:
                child.in_doubt[type(error).__name__] += 1
                child.sent.append(Sent(text, acknowledged=False))
                return []
            if response.status_code == 200:
                child.sent.append(Sent(text))
                return response.json().get("messages") or []
            child.in_doubt[f"HTTP {response.status_code}"] += 1
            child.sent.append(Sent(text, acknowledged=False))
            return []
        child.in_doubt["no worker reachable"] += 1  # never reached any: nothing stored
        return []

    async def _telegram(self, child: Child, text: str) -> None:
        chat_id = int(child.external_id)
        before = len(self.telegram.bot_messages(chat_id, include_deleted=True))
        self.telegram.user_says(chat_id, text)
        child.sent.append(Sent(text))
        waited = time.monotonic() + TELEGRAM_REPLY_WAIT_SECONDS
        while time.monotonic() < waited:
            if len(self.telegram.bot_messages(chat_id, include_deleted=True)) > before:
                return
            await asyncio.sleep(0.5)
        child.waited_out += 1

    async def _forget(self, http: httpx.AsyncClient, child: Child, deadline: float) -> None:
        """Ask to be forgotten until the gateway confirms (a failed request is asked again)."""
        rng = random.Random(child.index)
        give_up = deadline + 300
        while time.monotonic() < give_up:
            if child.channel == "telegram":
                chat_id = int(child.external_id)
                before = len(self.telegram.bot_messages(chat_id, include_deleted=True))
                self.telegram.user_says(chat_id, FORGET_ME)
                waited = time.monotonic() + TELEGRAM_REPLY_WAIT_SECONDS * 3
                while time.monotonic() < waited:
                    said = self.telegram.bot_messages(chat_id, include_deleted=True)[before:]
                    if any("đã xóa" in m.text for m in said):
                        child.forgotten = True
                        self.journal.note(f"child {child.index} (telegram) forgotten")
                        return
                    await asyncio.sleep(0.5)
            else:
                before = len(child.sent)
                replies = await self._web(http, child, FORGET_ME, rng)
                del child.sent[before:]  # the request itself is never stored
                if any("đã xóa" in r.get("text", "") for r in replies):
                    child.forgotten = True
                    self.journal.note(f"child {child.index} (web) forgotten")
                    return
            await asyncio.sleep(5)
        self.journal.note(f"child {child.index}: forget-me never confirmed")


# ---- the counsellors ------------------------------------------------------------------------------


class Counsellor:
    """One counsellor in the console over HTTP: takes every waiting case, answers every message
    of the child, closes the case after a while. Any failure: the other worker, logged in again."""

    def __init__(self, username: str, stack: Stack, journal: Journal, seed: int, hold: tuple[float, float]) -> None:
        self.username = username
        self.stack = stack
        self.journal = journal
        self.rng = random.Random(seed)
        self.hold = hold
        self.held: dict[int, float] = {}  # case id -> close after (monotonic)
        self.answered: dict[int, int] = {}  # case id -> last entry id answered
        self.http: httpx.AsyncClient | None = None
        self.csrf = ""
        self.worker = 0

    async def _login(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        base = self.stack.bot_urls[self.worker % len(self.stack.bot_urls)]
        self.http = httpx.AsyncClient(base_url=base, trust_env=False, timeout=30, follow_redirects=False)
        page = (await self.http.get("/console/login")).text
        token = _search(r'name="csrf_token" value="([^"]+)"', page)
        login = await self.http.post("/console/login", data={"username": self.username, "password": PASSWORD,
                                                             "csrf_token": token})
        if login.status_code != 303:
            raise RuntimeError(f"login answered {login.status_code}")
        self.csrf = _search(r'name="csrf-token" content="([^"]+)"', (await self.http.get("/console/queue")).text)

    async def _post(self, path: str, **form: Any) -> httpx.Response:
        assert self.http is not None
        response = await self.http.post(path, data={"csrf_token": self.csrf, **form})
        if response.status_code != 303:
            raise RuntimeError(f"{path} answered {response.status_code}")
        return response

    async def run(self, stop: asyncio.Event, wind_down: asyncio.Event) -> None:
        logged_in = False
        while not (stop.is_set() and not self.held):
            try:
                if not logged_in:
                    await self._login()
                    logged_in = True
                await self._round(wind_down.is_set())
            except (httpx.HTTPError, RuntimeError, ValueError, AssertionError) as error:
                self.journal.counsellor[f"{self.username}: {type(error).__name__}"] += 1
                self.worker += 1
                logged_in = False
            if stop.is_set() and not self.held:
                break
            await asyncio.sleep(2.0)
        if self.http is not None:
            await self.http.aclose()

    async def _round(self, winding_down: bool) -> None:
        assert self.http is not None
        queue = (await self.http.get("/console/api/queue")).json()
        for case in queue.get("mine", []):
            self.held.setdefault(case["id"], time.monotonic() + self.rng.uniform(*self.hold))
        for case in queue.get("waiting", []):
            if case["id"] in self.held:
                continue
            try:
                await self._post(f"/console/cases/{case['id']}/take")
            except RuntimeError:
                continue  # the other counsellor took it first
            self.held[case["id"]] = time.monotonic() + self.rng.uniform(*self.hold)
            self.journal.counsellor[f"{self.username}: taken"] += 1
        for case_id, close_after in list(self.held.items()):
            entries = (await self.http.get(f"/console/api/cases/{case_id}/entries")).json()
            if entries.get("status") != "active":
                self.held.pop(case_id, None)
                continue
            listed = entries.get("entries", [])
            last_user = max((e["id"] for e in listed if e["sender"] == "user"), default=0)
            last_answer = max((e["id"] for e in listed if e["sender"] == "counsellor"), default=0)
            if last_user > last_answer:
                await self._post(f"/console/cases/{case_id}/reply",
                                 text=f"Chị là {self.username}, chị đang nghe em đây. Em cứ kể tiếp nhé.")
                self.journal.counsellor[f"{self.username}: replies"] += 1
            elif winding_down or time.monotonic() >= close_after:
                await self._post(f"/console/cases/{case_id}/close", outcome="supported")
                self.held.pop(case_id, None)
                self.journal.counsellor[f"{self.username}: closed"] += 1


def _search(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    if found is None:
        raise ValueError(f"{pattern} not in the page")
    return found.group(1)


# ---- the faults -----------------------------------------------------------------------------------


class Chaos:
    def __init__(self, args: argparse.Namespace, stack: Stack, postgres: PrivatePostgres, redis: PrivateRedis,
                 telegram: FlakyTelegram, journal: Journal) -> None:
        self.args = args
        self.stack = stack
        self.postgres = postgres
        self.redis = redis
        self.telegram = telegram
        self.journal = journal
        self.rng = random.Random(args.seed * 7919)
        self.stop_supervising = threading.Event()
        self._restarting: set[str] = set()
        self._mutex = threading.Lock()

    def plan(self, window: tuple[float, float]) -> list[FaultRecord]:
        """One fault per slot of the window, in a seeded order, at a seeded time within its slot."""
        order = list(FAULTS)
        self.rng.shuffle(order)
        start, end = window
        slot = (end - start) / len(order)
        return [FaultRecord(name, start + slot * i + self.rng.uniform(0.1, 0.6) * slot) for i, name in enumerate(order)]

    async def run(self, plan: list[FaultRecord]) -> None:
        tasks = []
        for fault in plan:
            await asyncio.sleep(max(0.0, fault.planned - self.journal.now()))
            tasks.append(asyncio.create_task(asyncio.to_thread(self._inject, fault)))
        await asyncio.gather(*tasks)

    def _inject(self, fault: FaultRecord) -> None:
        fault.started, fault.started_utc = self.journal.now(), utc()
        self.journal.faults.append(fault)
        self.journal.note(f"FAULT {fault.name}")
        if fault.name == "kill a Rasa server":
            name = self.rng.choice(self.stack.rasa_names)
            self.stack.kill(name)
            fault.detail = f"SIGKILL {name}"
        elif fault.name == "kill a gateway worker":
            name = self.rng.choice(self.stack.gateway_names)
            self.stack.kill(name)
            fault.detail = f"SIGKILL {name}"
        elif fault.name == "kill the action server":
            self.stack.kill("actions")
            fault.detail = "SIGKILL actions"
        elif fault.name == "crash PostgreSQL":
            self.postgres.crash_restart(self.args.postgres_down)
            fault.detail = f"pg_ctl stop -m immediate, {self.args.postgres_down:g} s down, start"
        elif fault.name == "stop Redis":
            self.redis.stop()
            time.sleep(self.args.redis_down)
            self.redis.start()
            fault.detail = f"SIGKILL redis-server, {self.args.redis_down:g} s down, an empty one started"
        else:
            self.telegram.outage("sendMessage", 20, 429, retry_after=5)
            time.sleep(20)
            self.telegram.outage("sendMessage", 40, 500)
            time.sleep(40)
            fault.detail = "sendMessage: 429 (retry_after 5) for 20 s, then 500 for 40 s"
        fault.ended = self.journal.now()
        if fault.name.startswith("kill"):
            fault.ended = fault.started  # the restart is its own line (restarts)
        self.journal.note(f"      {fault.detail}")

    # Supervision: every dead process is started again at once, each by a thread of its own that
    # lives as long as the run. (Not a thread per restart: the stack's processes get SIGTERM when
    # the *thread* that started them ends, PR_SET_PDEATHSIG in devtools/stack.py.)
    def supervise(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._watch, args=(name,), daemon=True) for name in self.stack.ports]
        for thread in threads:
            thread.start()
        return threads

    def _watch(self, name: str) -> None:
        while not self.stop_supervising.is_set():
            process = next((p for p in list(self.stack._processes) if p.name == name), None)
            if process is None or process.exited() is None:
                time.sleep(0.5)
                continue
            with self._mutex:
                self._restarting.add(name)
            seen = self.journal.now()
            self.journal.note(f"{name} is dead: restarting it")
            try:
                self.stack.restart(name)
                self.journal.restarts.append((name, seen, self.journal.now()))
                self.journal.note(f"{name} ready again after {self.journal.now() - seen:.0f} s")
            except StackError as error:
                self.journal.note(f"{name} could not be restarted: {error}")
            finally:
                with self._mutex:
                    self._restarting.discard(name)

    @property
    def restarting(self) -> bool:
        with self._mutex:
            return bool(self._restarting)


# ---- the run --------------------------------------------------------------------------------------


def build_stack(model: Path, data_dir: Path, postgres: PrivatePostgres, redis: PrivateRedis,
                telegram: FlakyTelegram, keys: dict[str, str]) -> Stack:
    rasa_port, actions_port, bot_port = free_ports(2, 1, 2)
    env = {
        **keys,
        "STAFFED_HOURS": "always",
        "REDIS_KEY_PREFIX": "chaos:",
        # Every simulated child writes from 127.0.0.1: lift the per-address limit (rate limiting
        # has its own tests). Admission control stays as in production.
        "RATE_LIMIT_BURST": "10000", "RATE_LIMIT_PER_MINUTE": "60000",
        "RETENTION_CHECK_SECONDS": str(RETENTION_CHECK_SECONDS),
        "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_BASE": telegram.api_base,
        "TELEGRAM_FILE_BASE": f"{telegram.url}/file/bot",
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{bot_port}/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(16),
    }
    return Stack(model=model, engine_python=default_python("engine"), data_dir=data_dir, rasa_port=rasa_port,
                 actions_port=actions_port, bot_port=bot_port, rasa_processes=2, gateway_workers=2,
                 app_database_url=postgres.url("app"), rasa_tracker_url=postgres.url("tracker"),
                 redis_url=redis.url, extra_env=env)


def create_staff(stack: Stack, keys: dict[str, str]) -> None:
    import subprocess

    env = {**os.environ, "DATA_DIR": str(stack.data_dir), "APP_DATABASE_URL": stack.app_database_url,
           "PYTHONPATH": str(REPO_ROOT), "RASA_TOKEN": stack.token,
           **keys}
    for username, name in STAFF:
        subprocess.run([sys.executable, "-m", "bot.users", "create", username, "--name", name, "--role",
                        "counsellor", "--capacity", str(STAFF_CAPACITY), "--password-stdin"],
                       input=PASSWORD + "\n", text=True, check=True, cwd=REPO_ROOT, env=env,
                       stdout=subprocess.DEVNULL)


def seed_retention(stack: Stack, postgres: PrivatePostgres) -> list[str]:
    """A few conversations, then backdated BACKDATE_DAYS: retention must delete them, here and in Rasa."""
    import psycopg

    ids = ["chaosold" + secrets.token_hex(10) for _ in range(RETENTION_SEEDS)]
    with httpx.Client(trust_env=False, timeout=120) as http:
        for conversation in ids:
            for text in ("xin chào", "quyền trẻ em là gì"):
                http.post(f"{stack.bot_url}/api/webchat/{conversation}/messages", json={"text": text}).raise_for_status()
    with psycopg.connect(postgres.url("app").replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("UPDATE conversations SET last_activity = now() - make_interval(days => %s) "
                           "WHERE channel = 'web' AND external_id = ANY(%s)", (BACKDATE_DAYS, ids))
    return [f"web:{c}" for c in ids]


async def drive(args: argparse.Namespace, stack: Stack, chaos: Chaos, crowd: Crowd, journal: Journal) -> None:
    duration = args.minutes * 60
    plan = chaos.plan((duration * 0.08, duration * 0.72))
    for fault in plan:
        journal.note(f"planned: {fault.name} at {fault.planned:.0f} s")
    deadline = time.monotonic() + duration
    stop, wind_down = asyncio.Event(), asyncio.Event()
    counsellors = [Counsellor(username, stack, journal, args.seed + i, (40.0, 90.0))
                   for i, (username, _) in enumerate(STAFF)]
    counsellor_tasks = [asyncio.create_task(c.run(stop, wind_down)) for c in counsellors]
    progress = asyncio.create_task(_progress(journal, crowd, deadline))
    await asyncio.gather(crowd.run(deadline), chaos.run(plan))
    progress.cancel()
    journal.note("children stopped; waiting for recovery (counsellors close what they hold)")
    wind_down.set()
    await _recover(args, stack, chaos, crowd, journal)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*counsellor_tasks), timeout=300)


async def _progress(journal: Journal, crowd: Crowd, deadline: float) -> None:
    while True:
        await asyncio.sleep(60)
        sent = sum(len(c.sent) for c in crowd.children)
        doubt = sum(sum(c.in_doubt.values()) for c in crowd.children)
        journal.note(f"{sent} messages sent ({doubt} failed requests); {max(0, deadline - time.monotonic()):.0f} s left; "
                     f"load {os.getloadavg()[0]:.1f}")


async def _recover(args: argparse.Namespace, stack: Stack, chaos: Chaos, crowd: Crowd, journal: Journal) -> None:
    """Until every process is up, the webhook queue, the intake and the outbox are empty, no case
    is open, the forget requests and the retention are done, and nothing moved for a while."""
    import psycopg

    url = stack.app_database_url.replace("+psycopg", "")
    began = time.monotonic()
    last_state, steady_since = None, time.monotonic()
    while time.monotonic() - began < args.drain_timeout:
        await asyncio.sleep(3)
        if chaos.restarting:
            continue
        try:
            with psycopg.connect(url, connect_timeout=3) as connection:
                state = (
                    crowd.telegram.pending_updates(),
                    connection.execute("SELECT count(*) FROM inbound_updates WHERE status IN ('pending','processing')").fetchone()[0],
                    connection.execute("SELECT count(*) FROM outbox WHERE status IN ('pending','sending')").fetchone()[0],
                    connection.execute("SELECT count(*) FROM cases WHERE status IN ('waiting','active')").fetchone()[0],
                    connection.execute("SELECT count(*) FROM messages").fetchone()[0],
                )
        except psycopg.Error:
            continue
        if state != last_state:
            last_state, steady_since = state, time.monotonic()
            journal.note(f"recovery: webhook queue {state[0]}, intake {state[1]}, outbox {state[2]}, "
                         f"open cases {state[3]}, messages {state[4]}")
        if state[:4] == (0, 0, 0, 0) and time.monotonic() - steady_since >= 20:
            # Forget requests made during a case wait CLOSE_GRACE after it closed; retention runs
            # every RETENTION_CHECK_SECONDS: give both one more round.
            await asyncio.sleep(RETENTION_CHECK_SECONDS + 20)
            journal.note(f"recovered {time.monotonic() - began:.0f} s after the children stopped")
            return
    journal.note(f"NOT recovered after {args.drain_timeout:.0f} s: checking anyway")


# ---- the checks -----------------------------------------------------------------------------------


def journal_epoch(journal: Journal) -> float:
    """The run's start in seconds since the epoch (stored messages carry wall-clock times)."""
    return time.time() - (time.monotonic() - journal.started)


@dataclass
class Row:
    invariant: str
    held: bool
    detail: str


def collect_and_check(stack: Stack, crowd: Crowd, telegram: FlakyTelegram, retention_seeds: list[str],
                      keys: dict[str, str], journal: Journal) -> list[Row]:
    from sqlalchemy import select, text

    from bot import replies
    from bot.cases.crypto import load_keyring
    from bot.cases.models import Case, CaseStatus
    from bot.db import Database
    from bot.models import Conversation, Message, Sender
    from bot.outbox import OutboxItem

    database = Database(stack.app_database_url, keyring=load_keyring((keys["CASE_ENCRYPTION_KEYS"],), stack.data_dir))
    gateway_replies = (replies.RASA_BUSY, replies.RASA_UNAVAILABLE)
    problems: dict[str, list[str]] = defaultdict(list)
    answered_by: Counter[str] = Counter()
    stored_total = sent_total = 0
    holds_total = 0
    case_counts: Counter[str] = Counter()
    handoff_senders: set[str] = set()
    with database.session() as session, httpx.Client(trust_env=False, timeout=60) as http:
        def conversation_of(child: Child) -> Conversation | None:
            return session.scalars(select(Conversation).where(Conversation.channel == child.channel,
                                                              Conversation.external_id == child.external_id)).first()

        for child in crowd.children:
            if child.role == "forgetter" and child.forgotten:
                continue
            conversation = conversation_of(child)
            rows = [] if conversation is None else session.scalars(
                select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)).all()
            stored = [Stored(m.id, m.sender.value, m.text, m.created_at.timestamp(), m.payload) for m in rows]
            users = [m for m in stored if m.sender == "user"]
            sent_total += len(child.sent)
            stored_total += len(users)
            matched, storage = align(child.sent, users)
            problems["stored"] += [f"{child.sender_id}: {p}" for p in storage]
            result = answers(stored, child.sent, matched)
            answered_by.update(result.answered_by)
            problems["answered"] += [f"{child.sender_id}: {p}" for p in result.problems]
            tracker = http.get(f"{stack.rasa_url}/conversations/{child.sender_id}/tracker",
                               params={"token": stack.token}).json()
            events = tracker.get("events") or []
            tracker_users = [e.get("text") or "" for e in events if e.get("event") == "user"]
            problems["twice"] += [f"{child.sender_id}: {p}" for p in sent_to_rasa_twice(users, tracker_users)]
            requested = any(e.get("event") == "bot" and isinstance((e.get("data") or {}).get("custom"), dict)
                            and "handoff" in e["data"]["custom"]
                            and e["data"]["custom"]["handoff"].get("consent") != "declined" for e in events)
            cases = [] if conversation is None else session.scalars(
                select(Case).where(Case.conversation_id == conversation.id).order_by(Case.id)).all()
            real_cases = [c for c in cases if c.status != CaseStatus.DECLINED]
            if requested:
                handoff_senders.add(child.sender_id)
                if not real_cases:
                    problems["cases"].append(f"{child.sender_id}: a counsellor was asked for, no case")
            if child.role == "discloser":
                case_counts[f"{len(real_cases)} case(s)"] += 1
                if len(real_cases) != 1:
                    problems["cases"].append(f"{child.sender_id}: disclosed once, {len(real_cases)} cases")
            holds = [Hold(c.id, c.taken_at.timestamp(), c.closed_at.timestamp() if c.closed_at else None)
                     for c in cases if c.taken_at is not None]
            holds_total += len(holds)
            problems["held"] += [f"{child.sender_id}: {p}" for p in
                                 answered_by_bot_while_held(stored, holds, gateway_replies)]
            mine = [p for key in ("stored", "answered", "twice", "cases", "held") for p in problems[key]
                    if p.startswith(child.sender_id + ":")]
            if mine:
                journal.details[child.sender_id] = {
                    "role": child.role, "problems": mine,
                    "sent": [(m.text, m.acknowledged) for m in child.sent],
                    "stored": [(m.id, m.sender, m.text[:100], round(m.at - journal_epoch(journal), 1))
                               for m in stored],
                    "tracker_user_events": tracker_users,
                    "cases": [(c.id, c.status.value, str(c.created_at), str(c.taken_at), str(c.closed_at))
                              for c in cases]}
            if child.channel == "telegram" and conversation is not None:
                items = session.scalars(select(OutboxItem).where(
                    OutboxItem.channel == "telegram", OutboxItem.external_id == child.external_id,
                    OutboxItem.status == "sent").order_by(OutboxItem.id)).all()
                outbox_sent = [i.text or "Em chọn một mục dưới đây nhé:" for i in items]
                received = [m.text for m in telegram.bot_messages(int(child.external_id), include_deleted=True)]
                found = [f"{child.sender_id}: {p}" for p in sends(outbox_sent, received)]
                problems["sends"] += found
                if found:
                    every = session.scalars(select(OutboxItem).where(
                        OutboxItem.channel == "telegram", OutboxItem.external_id == child.external_id)
                        .order_by(OutboxItem.id)).all()
                    epoch = journal_epoch(journal)
                    journal.details[child.sender_id + " (sends)"] = {
                        "problems": found,
                        "outbox": [(i.id, i.message_id, i.part, i.status, i.attempts, i.last_error,
                                    round(i.created_at.timestamp() - epoch, 1),
                                    round(i.sent_at.timestamp() - epoch, 1) if i.sent_at else None, i.text[:40])
                                   for i in every],
                        "received": [(m.message_id, round(m.date - epoch, 1), m.text[:40]) for m in
                                     telegram.bot_messages(int(child.external_id), include_deleted=True)]}

        unfinished = session.execute(text("SELECT status, count(*) FROM outbox WHERE status <> 'sent' GROUP BY status")).all()
        outbox_total = session.execute(text("SELECT count(*) FROM outbox")).scalar()
        problems["drained"] += [f"{count} outbox item(s) {status}" for status, count in unfinished]
        intake_left = session.execute(text("SELECT status, count(*) FROM inbound_updates WHERE status <> 'done' GROUP BY status")).all()
        problems["drained"] += [f"{count} webhook update(s) {status}" for status, count in intake_left]
        if telegram.pending_updates():
            problems["drained"].append(f"{telegram.pending_updates()} update(s) never delivered by the platform")

        forgetters = [c for c in crowd.children if c.role == "forgetter"]
        for child in forgetters:
            if not child.forgotten:
                problems["forget"].append(f"{child.sender_id}: never confirmed")
            else:
                # The confirmation itself starts a new, empty conversation (bot/relay.py `_forget`).
                conversation = conversation_of(child)
                said = [] if conversation is None else session.scalars(select(Message).where(
                    Message.conversation_id == conversation.id, Message.sender == Sender.USER)).all()
                if said:
                    problems["forget"].append(f"{child.sender_id}: {len(said)} message(s) of the child still stored")
        for sender in retention_seeds:
            channel, _, external = sender.partition(":")
            if session.scalars(select(Conversation.id).where(Conversation.channel == channel,
                                                             Conversation.external_id == external)).first():
                problems["retention"].append(f"{sender}: still in the app database")
    import psycopg

    with psycopg.connect(stack.rasa_tracker_url.replace("+psycopg", ""), connect_timeout=5) as tracker_db:
        for sender in retention_seeds + [c.sender_id for c in crowd.children if c.role == "forgetter" and c.forgotten]:
            count = tracker_db.execute("SELECT count(*) FROM events WHERE sender_id = %s", (sender,)).fetchone()[0]
            if count:
                kind = "retention" if sender in retention_seeds else "forget"
                problems[kind].append(f"{sender}: {count} event(s) still in Rasa's tracker")
    database.dispose()

    web = [c for c in crowd.children if c.channel == "web"]
    doubt = Counter()
    for c in web:
        doubt.update(c.in_doubt)
    refused = sum(c.refused for c in web)
    telegram_sends = len([1 for name, _ in telegram.calls if name == "sendMessage"])
    rows = [
        Row("every child message stored exactly once, in order", not problems["stored"],
            f"{sent_total} sent, {stored_total} stored; web requests refused by a dead worker and sent to the "
            f"other: {refused}; failed requests (the page's apology with 111; stored at most once): "
            f"{sum(doubt.values())} ({', '.join(f'{k} {v}' for k, v in doubt.most_common()) or 'none'})"),
        Row("every message answered (bot, counsellor, or the apology with 111)", not problems["answered"],
            ", ".join(f"{k}: {v}" for k, v in answered_by.most_common())),
        Row("no message handled twice (each reached Rasa at most once)", not problems["twice"],
            "user events of every tracker against the stored messages"),
        Row("no case lost or opened twice", not problems["cases"],
            f"{len(handoff_senders)} conversations asked for a counsellor; disclosers: "
            f"{', '.join(f'{k}: {v}' for k, v in sorted(case_counts.items())) or 'none'}"),
        Row("no conversation a counsellor held answered by the bot", not problems["held"],
            f"{holds_total} cases taken; counsellors: "
            f"{', '.join(f'{k} {v}' for k, v in sorted(journal.counsellor.items()))}"),
        Row("outbox drained, every message received once by the platform",
            not problems["drained"] and not problems["sends"],
            f"{outbox_total} outbox items; {telegram_sends} sendMessage calls at the fake Telegram, "
            f"{sum(telegram.failed_calls.values())} of them answered with an error "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(telegram.failed_calls.items())) or 'none'})"),
        Row("forget-me completed", not problems["forget"],
            f"{sum(c.forgotten for c in crowd.children)} of {len([c for c in crowd.children if c.role == 'forgetter'])} "
            "children forgotten: app database and Rasa's tracker"),
        Row("retention completed", not problems["retention"],
            f"{len(retention_seeds)} conversations backdated {BACKDATE_DAYS} days: gone from the app database "
            "and Rasa's tracker"),
    ]
    keys_of = {rows[0].invariant: "stored", rows[1].invariant: "answered", rows[2].invariant: "twice",
               rows[3].invariant: "cases", rows[4].invariant: "held", rows[5].invariant: "drained+sends",
               rows[6].invariant: "forget", rows[7].invariant: "retention"}
    for row in rows:
        found = [p for key in keys_of[row.invariant].split("+") for p in problems[key]]
        if found:
            row.detail += "; PROBLEMS: " + " | ".join(found[:8]) + (f" | ... {len(found) - 8} more" if len(found) > 8 else "")
    return rows


def print_report(args: argparse.Namespace, model: Path, journal: Journal, crowd: Crowd, rows: list[Row],
                 started_utc: str) -> None:
    memory = int(open("/proc/meminfo").readline().split()[1]) / 2**20
    web = sum(c.channel == "web" for c in crowd.children)
    print(f"\n## Chaos run, {started_utc} UTC, seed {args.seed}")
    print(f"machine: {os.cpu_count()} cores (nproc), {memory:.0f} GiB memory, {platform.platform()}; "
          f"model {model.name}")
    print(f"load: {args.children} children ({web} web chat, {args.children - web} Telegram; "
          f"{args.disclosers} disclose imminent danger, {args.forgetters} ask to be forgotten), think "
          f"{args.think[0]:g}-{args.think[1]:g} s, {args.minutes:g} min; 2 Rasa servers, 2 gateway workers, "
          "action server, private PostgreSQL and Redis\n")
    print("| fault | at (s) | UTC | what | back after |")
    print("|---|---|---|---|---|")
    for fault in sorted(journal.faults, key=lambda f: f.started):
        back = ""
        if fault.name.startswith("kill"):
            name = fault.detail.split()[-1]
            restart = next((r for r in journal.restarts if r[0] == name and r[1] >= fault.started - 1), None)
            back = f"{restart[2] - fault.started:.0f} s (restarted, ready)" if restart else "?"
        else:
            back = f"{fault.ended - fault.started:.0f} s"
        print(f"| {fault.name} | {fault.started:.0f} | {fault.started_utc} | {fault.detail} | {back} |")
    print("\n| invariant | held | detail |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row.invariant} | {'yes' if row.held else '**NO**'} | {row.detail} |")


def run(args: argparse.Namespace, model: Path) -> int:
    journal = Journal()
    mix = MessageMix.load()
    keys = {"CASE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "TRACKER_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    started_utc = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory(prefix="chaos-") as directory, PrivatePostgres() as postgres, \
            PrivateRedis() as redis, FlakyTelegram() as telegram:
        postgres.create_database("app")
        print(f"PostgreSQL (private) on {postgres.port}, Redis (private) on {redis.port}, "
              f"fake Telegram on {telegram.url}; starting the stack...", flush=True)
        stack = build_stack(model, Path(directory) / "data", postgres, redis, telegram, keys)
        with stack:
            create_staff(stack, keys)
            retention_seeds = seed_retention(stack, postgres)
            crowd = Crowd(args, stack, telegram, journal, mix)
            chaos = Chaos(args, stack, postgres, redis, telegram, journal)
            journal.started = time.monotonic()
            chaos.supervise()
            try:
                asyncio.run(drive(args, stack, chaos, crowd, journal))
                rows = collect_and_check(stack, crowd, telegram, retention_seeds, keys, journal)
            finally:
                # The watchers end here, and the processes they restarted with them (stopped anyway).
                chaos.stop_supervising.set()
                if args.keep_logs:
                    target = Path(args.keep_logs)
                    target.mkdir(parents=True, exist_ok=True)
                    for log in stack.log_dir.glob("*.log"):
                        (target / log.name).write_bytes(log.read_bytes())
                    (target / "journal.txt").write_text("\n".join(journal.notes) + "\n")
                    (target / "problems.json").write_text(json.dumps(journal.details, ensure_ascii=False, indent=1))
    print_report(args, model, journal, crowd, rows, started_utc)
    return 0 if all(row.held for row in rows) else 1


def _pair(raw: str) -> tuple[float, float]:
    low, _, high = raw.partition(",")
    return float(low), float(high or low)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM (e.g. a timeout) ends the run like Ctrl-C: the stack, PostgreSQL and Redis are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="trained model; default: the newest in models/")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the children talk (default 10)")
    parser.add_argument("--children", type=int, default=50)
    parser.add_argument("--telegram-share", type=float, default=0.4, help="share of children on Telegram")
    parser.add_argument("--disclosers", type=int, default=5, help="children who disclose imminent danger once")
    parser.add_argument("--forgetters", type=int, default=3, help="children who ask to be forgotten")
    parser.add_argument("--think", type=_pair, default=(5.0, 15.0), help="think time MIN,MAX seconds")
    parser.add_argument("--seed", type=int, default=17, help="fault times and order, children's scripts")
    parser.add_argument("--postgres-down", type=float, default=5.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--redis-down", type=float, default=30.0, help="seconds Redis stays down")
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds to wait for recovery")
    parser.add_argument("--keep-logs", help="copy the processes' logs and the journal here")
    args = parser.parse_args(argv)
    model = args.model or newest_model()
    if model is None:
        print("No model: run `make train` first.", file=sys.stderr)
        return 2
    return run(args, Path(model))


if __name__ == "__main__":
    sys.exit(main())
