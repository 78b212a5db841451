"""``python -m rag users ...``: accounts, groups and API keys (see :mod:`rag.users`)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from rag.cli_common import run_main, setup_logging
from rag.config import load_settings
from rag.errors import ConfigError
from rag.users import User, Users, parse_groups


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag users",
                                     description="Manage users, their groups and API keys.")
    parser.add_argument("--store", help="store folder (default: RAG_STORE_DIR)")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create a user; prints a new API key once")
    add.add_argument("name")
    add.add_argument("--groups", default="", help="comma-separated groups")
    add.add_argument("--admin", action="store_true", help="sees every document, manages users")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (else: asked for on a terminal, "
                     "none when there is none: an API-only user)")
    add.add_argument("--json", action="store_true", help='last line {"user", "groups", "api_key"}')
    listing = sub.add_parser("list", help="the users and their groups")
    listing.add_argument("--json", action="store_true")
    remove = sub.add_parser("remove", help="delete a user and revoke their keys")
    remove.add_argument("name")
    passwd = sub.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    groups = sub.add_parser("groups", help="set a user's groups (takes effect on the next question)")
    groups.add_argument("name")
    groups.add_argument("groups", help="comma-separated groups ('' for none)")
    groups.add_argument("--admin", choices=["yes", "no"], help="also make or unmake an admin")
    key = sub.add_parser("key", help="a new API key for a user (shown once)")
    key.add_argument("name")
    key.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke every API key of a user")
    revoke.add_argument("name")
    return parser


def _password(from_stdin: bool, *, required: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise ConfigError("the two passwords differ: run the command again")
        return first
    if required:
        raise ConfigError("no terminal to ask for the password: pass --password-stdin and "
                          "send it on standard input")
    return None


def _row(user: User) -> dict[str, object]:
    return {"user": user.name, "groups": sorted(user.groups), "admin": user.admin}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()

    def body() -> int:
        settings = load_settings(**({"store_dir": args.store} if args.store else {}))
        users = Users(settings)
        try:
            if args.action == "add":
                password = _password(args.password_stdin, required=False)
                user, key = users.add(args.name, groups=parse_groups(args.groups),
                                      admin=args.admin, password=password)
                print(f"added {user.name} (groups: {', '.join(sorted(user.groups)) or 'none'}"
                      f"{', admin' if user.admin else ''}); API key, shown once: {key}",
                      file=sys.stderr)
                if args.json:
                    print(json.dumps({"user": user.name, "groups": sorted(user.groups),
                                      "admin": user.admin, "api_key": key}))
            elif args.action == "list":
                rows = [_row(u) for u in users.all()]
                if args.json:
                    print(json.dumps({"users": rows}))
                for row in rows if not args.json else []:
                    groups = ", ".join(row["groups"]) or "-"  # type: ignore[arg-type]
                    admin = "\tadmin" if row["admin"] else ""
                    print(f"{row['user']}\t{groups}{admin}")
            elif args.action == "remove":
                users.remove(args.name)
                print(f"removed {args.name}", file=sys.stderr)
            elif args.action == "passwd":
                password = _password(args.password_stdin, required=True)
                assert password is not None
                users.set_password(args.name, password)
                print(f"password of {args.name} set", file=sys.stderr)
            elif args.action == "groups":
                admin = None if args.admin is None else args.admin == "yes"
                user = users.set_groups(args.name, parse_groups(args.groups), admin=admin)
                print(json.dumps(_row(user)))
            elif args.action == "key":
                key = users.new_key(args.name)
                print(json.dumps({"user": args.name, "api_key": key}) if args.json else key)
            elif args.action == "revoke":
                print(f"revoked {users.revoke_keys(args.name)} keys of {args.name}", file=sys.stderr)
            return 0
        finally:
            users.close()

    return run_main(body)
