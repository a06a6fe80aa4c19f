#!/usr/bin/env bash
# Write deploy/env/{postgres,redis,rasa,app}.env with fresh random secrets, consistent
# across the files (the same token in rasa.env and app.env, the database passwords
# inside the URLs). Refuses to overwrite existing files: rotating a secret is a
# procedure (docs/operations.md), not a re-run of this script.
#
#   deploy/generate-env.sh [--env-dir DIR]
#
# Needs only python3 (secrets, base64). Files are created with mode 0600.
set -euo pipefail
env_dir=$(cd "$(dirname "$0")" && pwd)/env
if [ "${1:-}" = "--env-dir" ]; then env_dir=${2:?directory}; fi
mkdir -p "$env_dir"
for name in postgres redis rasa app; do
  if [ -e "$env_dir/$name.env" ]; then
    echo "$env_dir/$name.env exists; not overwriting any secret" >&2
    exit 1
  fi
done

random_token() { python3 -c 'import secrets; print(secrets.token_urlsafe(36))'; }
# A Fernet key: 32 random bytes, URL-safe base64.
fernet_key() { python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }
# Passwords that need no escaping inside a URL.
password() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }

postgres_password=$(password) app_db_password=$(password) tracker_db_password=$(password)
redis_password=$(password) rasa_token=$(random_token)

umask 077
cat >"$env_dir/postgres.env" <<ENV
POSTGRES_PASSWORD=$postgres_password
APP_DB_PASSWORD=$app_db_password
TRACKER_DB_PASSWORD=$tracker_db_password
ENV
cat >"$env_dir/redis.env" <<ENV
REDIS_PASSWORD=$redis_password
ENV
cat >"$env_dir/rasa.env" <<ENV
RASA_TOKEN=$rasa_token
TRACKER_ENCRYPTION_KEYS=$(fernet_key)
TRACKER_DB_PASSWORD=$tracker_db_password
REDIS_PASSWORD=$redis_password
ENV
cat >"$env_dir/app.env" <<ENV
RASA_TOKEN=$rasa_token
CASE_ENCRYPTION_KEYS=$(fernet_key)
APP_DATABASE_URL=postgresql+psycopg://tre_em:$app_db_password@postgres:5432/tre_em_app
KB_DATABASE_URL=postgresql+psycopg://tre_em:$app_db_password@postgres:5432/tre_em_kb
RASA_TRACKER_URL=postgresql+psycopg://tre_em:$app_db_password@postgres:5432/rasa_tracker
REDIS_URL=redis://:$redis_password@redis:6379/0
ENV
chmod 600 "$env_dir"/{postgres,redis,rasa,app}.env
echo "Wrote $env_dir/{postgres,redis,rasa,app}.env (mode 0600). Add channel settings to app.env if needed."
