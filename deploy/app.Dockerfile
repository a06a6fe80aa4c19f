# The app image: the gateway (FastAPI), the action server (rasa-sdk) and the
# knowledge base, built from requirements/app.lock as scripts/setup_env.sh builds
# the app environment (pinned lock, --no-deps). One image, two commands
# (see deploy/compose.yaml).
#
#   docker build -f deploy/app.Dockerfile -t tre-em/app .    (from the repository root)
#
# No secret is baked in: they come from deploy/env/app.env at run time.
FROM python:3.11-slim-bookworm

ENV DO_NOT_TRACK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/app/bin:$PATH \
    PYTHONPATH=/srv/tre-em

COPY requirements/app.lock /tmp/app.lock
RUN python -m venv /opt/app \
 && /opt/app/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip<25" \
 && /opt/app/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r /tmp/app.lock \
 && rm /tmp/app.lock

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/tre-em tre-em \
 && mkdir -p /var/lib/tre-em && chown tre-em:tre-em /var/lib/tre-em && chmod 0700 /var/lib/tre-em
WORKDIR /srv/tre-em

# The gateway and its migrations, the actions and the knowledge base content,
# the NLU modules the app environment shares and the shared package (standard library only).
COPY bot/ bot/
COPY actions/ actions/
COPY nlu/__init__.py nlu/__init__.py
COPY nlu/vietnamese_text.py nlu/vietnamese_text.py
COPY nlu/risk_field.py nlu/risk_field.py
COPY nlu/moments.py nlu/moments.py
COPY nlu/lexicon/moments.yml nlu/lexicon/moments.yml
COPY common/ common/
COPY domain.yml domain.yml

USER tre-em
ENV DATA_DIR=/var/lib/tre-em
EXPOSE 8000 5055
# The gateway by default; the action server's command is set in compose.yaml.
CMD ["uvicorn", "--factory", "bot.app:create_app", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "2", "--no-access-log", "--timeout-graceful-shutdown", "3"]
