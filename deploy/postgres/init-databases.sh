#!/usr/bin/env bash
# Runs once, when the PostgreSQL volume is empty (docker-entrypoint-initdb.d).
# Two roles, three databases, least privilege:
#   $APP_DB_USER     owns the gateway's database and the knowledge base's;
#   $TRACKER_DB_USER owns Rasa's tracker database;
#   $APP_DB_USER may read and delete tracker rows (retention and "forget me"), nothing else there.
# Names come from deploy/compose.yaml, passwords from deploy/env/postgres.env.
set -euo pipefail
: "${APP_DB_USER:?}" "${APP_DB_NAME:?}" "${KB_DB_NAME:?}" "${TRACKER_DB_USER:?}" "${TRACKER_DB_NAME:?}"
: "${APP_DB_PASSWORD:?set in deploy/env/postgres.env}" "${TRACKER_DB_PASSWORD:?set in deploy/env/postgres.env}"

# Passwords go in as psql variables (:'name' quotes them), never spliced into SQL text.
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" \
  -v tracker_user="$TRACKER_DB_USER" -v tracker_password="$TRACKER_DB_PASSWORD" \
  -v app_db="$APP_DB_NAME" -v kb_db="$KB_DB_NAME" -v tracker_db="$TRACKER_DB_NAME" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE ROLE :"tracker_user" LOGIN PASSWORD :'tracker_password';
CREATE DATABASE :"app_db" OWNER :"app_user" ENCODING 'UTF8';
CREATE DATABASE :"kb_db" OWNER :"app_user" ENCODING 'UTF8';
CREATE DATABASE :"tracker_db" OWNER :"tracker_user" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"app_db", :"kb_db", :"tracker_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"tracker_db" TO :"app_user";
SQL

# Rasa creates its tables at first start, as the tracker role: grant on them in advance.
psql -v ON_ERROR_STOP=1 --username postgres --dbname "$TRACKER_DB_NAME" \
  -v app_user="$APP_DB_USER" -v tracker_user="$TRACKER_DB_USER" <<'SQL'
GRANT USAGE ON SCHEMA public TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"tracker_user" IN SCHEMA public GRANT SELECT, DELETE ON TABLES TO :"app_user";
SQL
