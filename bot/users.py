"""Console accounts from the command line (there is no sign-up page).

    python -m bot.users create admin --name "Hà" --role admin       # asks for the password twice
    python -m bot.users create lan --name "Lan" --role counsellor --capacity 3
    python -m bot.users create thu --name "Thu" --role editor    # the legal content only, no cases
    python -m bot.users list
    python -m bot.users password lan          # set a new password (ends their sessions)
    python -m bot.users disable lan           # no more logins; sessions end now
    python -m bot.users enable lan
    python -m bot.users alerts lan 123456789  # Telegram chat id for discreet alerts ("-" to remove)

`--password-stdin` reads the password from standard input (for scripts and
tests) instead of asking. Uses APP_DATABASE_URL / DATA_DIR like the gateway,
and migrates the database first, so it also works before the first start.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.cases import audit
from bot.cases.models import Role, StaffUser
from bot.console.auth import PASSWORD_MIN_CHARS, WeakPassword, end_sessions_of, hash_password
from bot.db import Database, migrate
from bot.settings import get_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.users", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--name", required=True, help="first name or alias the child sees")
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.COUNSELLOR.value)
    create.add_argument("--capacity", type=int, default=3, help="most cases at once (default 3)")
    create.add_argument("--password-stdin", action="store_true")
    commands.add_parser("list", help="list accounts")
    password = commands.add_parser("password", help="set a new password")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        commands.add_parser(name, help=f"{name} an account").add_argument("username")
    alerts = commands.add_parser("alerts", help="Telegram chat id for alerts ('-' removes it)")
    alerts.add_argument("username")
    alerts.add_argument("chat_id")
    args = parser.parse_args(argv)

    database = Database.from_settings(get_settings())
    try:
        migrate(database)
        return _run(database, args)
    except WeakPassword:
        print(f"The password must have at least {PASSWORD_MIN_CHARS} characters.", file=sys.stderr)
        return 2
    finally:
        database.dispose()


def _run(database: Database, args: argparse.Namespace) -> int:
    if args.command == "list":
        with database.session() as session:
            for user in session.scalars(select(StaffUser).order_by(StaffUser.username)):
                state = "active" if user.active else "disabled"
                print(f"{user.username:20} {user.display_name:16} {user.role.value:11} "
                      f"capacity={user.capacity} {state}")
        return 0

    if args.command == "create":
        if args.capacity < 1:
            print("--capacity must be at least 1", file=sys.stderr)
            return 2
        password_hash = hash_password(_password(args.password_stdin))
        try:
            with database.session() as session:
                user = StaffUser(username=args.username, display_name=args.name, role=Role(args.role),
                                 capacity=args.capacity, password_hash=password_hash, active=True)
                session.add(user)
                session.flush()
                audit.record(session, None, "user_created", username=user.username, role=user.role.value)
        except IntegrityError:
            print(f"An account named {args.username!r} already exists.", file=sys.stderr)
            return 1
        print(f"Created {args.role} {args.username!r} ({args.name}).")
        return 0

    with database.session() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == args.username)).one_or_none()
        if user is None:
            print(f"No account named {args.username!r}.", file=sys.stderr)
            return 1
        if args.command == "password":
            user.password_hash = hash_password(_password(args.password_stdin))
            end_sessions_of(session, user.id)
        elif args.command in ("disable", "enable"):
            user.active = args.command == "enable"
            end_sessions_of(session, user.id)
        elif args.command == "alerts":
            user.alert_chat_id = None if args.chat_id == "-" else args.chat_id
        audit.record(session, None, f"user_{args.command}", username=user.username)
    print("Done.")
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("The two passwords differ.")
    return first


if __name__ == "__main__":
    sys.exit(main())
