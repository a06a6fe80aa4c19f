"""Simulated children: each one a conversation of messages with think time in between.

A child opens with a greeting (most do), sends a few messages drawn by weight from
bench/messages.yml, sometimes closes with thanks, and keeps talking until the
phase's deadline. Two targets speak the same script: the gateway's web chat API
(the full stack) and Rasa's REST channel (plain Rasa, no gateway), so their
latencies compare like for like.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

MESSAGES_FILE = Path(__file__).with_name("messages.yml")
REQUEST_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class MessageMix:
    openings: tuple[str, ...]
    closings: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    weights: tuple[float, ...]

    @classmethod
    def load(cls, path: Path = MESSAGES_FILE) -> MessageMix:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups = data["groups"]
        return cls(tuple(data["opening"]), tuple(data["closing"]),
                   tuple(tuple(g["messages"]) for g in groups), tuple(float(g["weight"]) for g in groups))

    def conversation(self, rng: random.Random, length: int) -> list[str]:
        """One visit: greeting (80%), `length` messages by weight, a closing (40%)."""
        turns = [rng.choice(self.openings)] if rng.random() < 0.8 else []
        for group in rng.choices(self.groups, weights=self.weights, k=length):
            turns.append(rng.choice(group))
        if rng.random() < 0.4:
            turns.append(rng.choice(self.closings))
        return turns


@dataclass
class PhaseResult:
    target: str
    children: int
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile in seconds (nan when nothing succeeded)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class Target:
    """Where a child's message goes and how; `send` raises on anything but a good answer."""

    name = ""

    def __init__(self, base_urls: Sequence[str]) -> None:
        self.base_urls = list(base_urls)

    def new_conversation(self, index: int) -> tuple[str, str]:
        """(base URL, conversation id); children are spread over the base URLs."""
        return self.base_urls[index % len(self.base_urls)], secrets.token_urlsafe(24)

    async def send(self, http: httpx.AsyncClient, base_url: str, conversation: str, text: str) -> None:
        raise NotImplementedError


class GatewayWebChat(Target):
    name = "gateway"

    async def send(self, http: httpx.AsyncClient, base_url: str, conversation: str, text: str) -> None:
        response = await http.post(f"{base_url}/api/webchat/{conversation}/messages", json={"text": text})
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        messages = response.json().get("messages") or []
        if not messages:
            raise RuntimeError("no reply")
        # A "system" reply alone is the gateway apologising (e.g. Rasa timed out): not an answer.
        if not any(m.get("sender") == "bot" for m in messages):
            raise RuntimeError("apology instead of an answer")


class PlainRasaRest(Target):
    name = "plain Rasa"

    async def send(self, http: httpx.AsyncClient, base_url: str, conversation: str, text: str) -> None:
        response = await http.post(f"{base_url}/webhooks/rest/webhook",
                                   json={"sender": f"bench-{conversation}", "message": text})
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        if not response.json():
            raise RuntimeError("no reply")


async def run_phase(target: Target, children: int, duration: float, think: tuple[float, float],
                    mix: MessageMix, seed: int = 7) -> PhaseResult:
    """`children` concurrent children talk to `target` for `duration` seconds."""
    result = PhaseResult(target.name, children)
    limits = httpx.Limits(max_connections=children + 8, max_keepalive_connections=children + 8)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, limits=limits, trust_env=False) as http:
        started = time.monotonic()
        deadline = started + duration

        async def child(index: int) -> None:
            rng = random.Random(seed * 100_003 + index)
            base_url, conversation = target.new_conversation(index)
            # Children arrive spread over the first think time, not all in the same millisecond.
            await asyncio.sleep(min(rng.uniform(0, think[1]), duration))
            while time.monotonic() < deadline:
                for text in mix.conversation(rng, length=rng.randint(2, 6)):
                    if time.monotonic() >= deadline:
                        return
                    sent = time.monotonic()
                    try:
                        await target.send(http, base_url, conversation, text)
                    except (httpx.HTTPError, RuntimeError, ValueError) as error:
                        result.errors[_error_label(error)] += 1
                    else:
                        result.latencies.append(time.monotonic() - sent)
                    # Thinking past the deadline would only stretch the phase's clock.
                    await asyncio.sleep(min(rng.uniform(*think), max(0.0, deadline - time.monotonic())))
                base_url, conversation = target.new_conversation(index)  # the next visit

        await asyncio.gather(*(child(i) for i in range(children)))
        result.elapsed = time.monotonic() - started
    return result


def _error_label(error: Exception) -> str:
    return str(error) if isinstance(error, RuntimeError) else type(error).__name__
