"""The gateway's web application.

    uvicorn --factory bot.app:create_app --host 127.0.0.1 --port 8000

`create_app(settings)` builds everything from the settings it is given, so
tests run several apps side by side with their own database and fake Rasa.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from bot import webchat
from bot.admission import Admission
from bot.api_docs import render_api_docs
from bot.api_errors import install_error_handlers
from bot.body_limit import BodySizeLimit
from bot.cases.crypto import UserRefs
from bot.channels import push
from bot.console import routes as console
from bot.console.auth import LoginThrottle
from bot.console.pages import ConsoleContext
from bot.coordination.build import build as build_coordination
from bot.db import Database, check_keys, migrate
from bot.handoff import Handoff
from bot.outbox import Outbox
from common import redaction
from bot.privacy.forget import Forgetting
from bot.privacy.retention import Retention
from bot.privacy.stores import TrackerStore
from bot.rasa_client import RasaClient
from bot.relay import Relay
from bot.security_headers import SecurityHeaders
from bot.settings import Settings, get_settings
from bot.speaker import Speaker

STATIC_DIR = Path(__file__).parent / "static"
# A message at the cap, JSON-escaped as \uXXXX surrogate pairs (12 bytes a
# character), still fits, so an over-long message gets the polite reply.
MIN_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    redaction.install()  # no phone numbers, e-mails, ids, addresses or names in any log line
    max_body_bytes = max(MIN_BODY_BYTES, settings.max_message_chars * 12 + 4096)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Carries the case keyring: message text is encrypted at rest (bot.at_rest).
        database = Database.from_settings(settings)
        migrate(database)  # alembic upgrade head (bot/migrations); one worker at a time
        check_keys(database)  # the keys read the stored transcripts, or no start (a wrong restore)
        # Shared by every worker with REDIS_URL (bot/coordination), in memory without.
        coordination = build_coordination(settings)
        app.state.coordination = coordination
        app.state.rate_limits = coordination.rate_limits
        app.state.poll_limits = coordination.limits("poll", webchat.POLL_BURST, webchat.POLL_PER_MINUTE)
        rasa = RasaClient(settings.rasa_urls, settings.rasa_token)
        app.state.rasa = rasa
        # Push channels (Telegram, Zalo): replies go to the outbox with the transcript.
        outbox = Outbox(database, settings.channel_lease_seconds)
        # Everything said to a person is stored and, for a push channel, queued in one unit of work.
        speaker = Speaker(database, on_replies=push.reply_hook(outbox))
        # Escalation: cases, the handoff lock (in the relay) and the counsellor console.
        assert database.keyring is not None
        handoff = Handoff(database, rasa, speaker, database.keyring,
                          UserRefs.from_data_dir(settings.data_dir), settings, feed=coordination.feed,
                          turn_locks=coordination.turn_locks)
        app.state.handoff = handoff
        app.state.console = ConsoleContext(database, handoff, settings, LoginThrottle())
        tracker = TrackerStore(settings.rasa_tracker_url)  # Rasa's `events` table, for deleting only
        # At most so many Rasa calls at once in this worker; a child waits seconds, never half a minute.
        admission = Admission(settings.rasa_max_in_flight, settings.rasa_reply_deadline_seconds)
        app.state.relay = Relay(
            database, rasa, settings.max_message_chars, speaker=speaker,
            handoff=handoff, forgetting=Forgetting(database, tracker),
            log_message_text=settings.log_message_text, turn_locks=coordination.turn_locks,
            admission=admission,
        )
        waiting_watch = asyncio.create_task(handoff.watch(settings.queue_check_seconds))
        # Retention (bot/privacy/retention.py): purge now, then every RETENTION_CHECK_SECONDS.
        app.state.retention = retention = Retention.from_settings(database, settings)
        # Every worker runs the loop; each pass runs alone (Retention takes the job locks itself).
        retention_job = asyncio.create_task(app.state.retention.run(settings.retention_check_seconds))
        try:
            async with push.run_channels(app, settings, database, app.state.relay, outbox,
                                         alerts=handoff.alerts):
                yield
        finally:
            waiting_watch.cancel()
            retention_job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting_watch
            with contextlib.suppress(asyncio.CancelledError):
                await retention_job
            await admission.aclose()  # the turns still waiting for Rasa, before its client goes
            app.state.retention.dispose()
            tracker.dispose()
            await rasa.aclose()
            await coordination.aclose()
            database.dispose()

    app = FastAPI(
        title="Child-safety chatbot gateway",
        version="1.0",
        description=(
            "Web chat API of the Vietnamese child-safety assistant. "
            "Disclosures are answered with safety information and hotline 111 "
            "(national child protection hotline, free, 24/7)."
        ),
        lifespan=lifespan,
        docs_url=None,  # Swagger UI would load from a CDN; /docs below is self-hosted
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)  # added last = outermost: on every response
    app.include_router(webchat.router)
    app.include_router(push.router)  # /telegram/webhook, /zalo/webhook
    console.install(app)  # /console: the counsellors' side
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(render_api_docs(app.openapi()))

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: Rasa is reachable and has a model loaded",
        responses={503: {"description": "Rasa is not ready"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        rasa: RasaClient = request.app.state.rasa
        if await rasa.is_ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return app
