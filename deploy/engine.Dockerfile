# The engine image: Rasa 3.6.21 on Python 3.11, built from requirements/engine.lock
# exactly as scripts/setup_env.sh builds the engine environment (pinned lock,
# --no-deps --ignore-requires-python, rasa/keys deleted), plus our graph
# components (nlu/) and the encrypted tracker store.
#
#   docker build -f deploy/engine.Dockerfile -t tre-em/engine .    (from the repository root)
#
# No model and no secret is baked in: the model directory is mounted at /models
# (Rasa loads the newest *.tar.gz in it) and secrets come from deploy/env/rasa.env.
FROM python:3.11-slim-bookworm

ENV RASA_TELEMETRY_ENABLED=false \
    DO_NOT_TRACK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/engine/bin:$PATH \
    PYTHONPATH=/srv/tre-em

# The lock is the whole truth: Rasa's own metadata cannot be resolved on 3.11.
COPY requirements/engine.lock /tmp/engine.lock
RUN python -m venv /opt/engine \
 && /opt/engine/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip<25" \
 && /opt/engine/bin/python -m pip install --quiet --disable-pip-version-check \
      --no-deps --ignore-requires-python -r /tmp/engine.lock \
 # Rasa ships Segment and Sentry write keys here and initialises Sentry on every
 # command whatever the telemetry setting; without the file neither can send.
 && rm -f /opt/engine/lib/python3.11/site-packages/rasa/keys \
 && rm /tmp/engine.lock

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/tre-em tre-em
WORKDIR /srv/tre-em

# Only what the engine imports: our graph components and lexicon, the shared
# standard-library-only package (log redaction), the engine package (tracker and lock stores, launcher), and Rasa's
# channel and endpoint files.
COPY nlu/ nlu/
COPY common/ common/
COPY engine/ engine/
COPY credentials.yml credentials.yml
COPY deploy/endpoints.production.yml endpoints.yml

USER tre-em
# Also switch off telemetry in Rasa's global config, as scripts/disable_rasa_telemetry.sh does.
RUN rasa telemetry disable >/dev/null

EXPOSE 5005
ENTRYPOINT ["python", "-m", "engine.launch"]
CMD ["run", "--enable-api", "--interface", "0.0.0.0", "--port", "5005", "--model", "/models", \
     "--endpoints", "/srv/tre-em/endpoints.yml", "--credentials", "/srv/tre-em/credentials.yml"]
