"""Commands for a team server: ``users add|list|disable``, ``backup``, ``restore``, ``check``.

The command line acts as the operator (``core.identity.OPERATOR``): whoever can run it on a
data home may manage its accounts.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import sys

from haverford.core.cli_output import FileProgress
from haverford.core.errors import HaverfordError


def _nested_common() -> argparse.ArgumentParser:
    """``--home``/``--json`` after ``users add NAME`` too; SUPPRESS keeps ``users --home X`` intact."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="data home")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout")
    return common


# --- users ----------------------------------------------------------------------------------

def configure_users(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="users_command", metavar="add|list|disable", required=True, parser_class=type(p))
    common = _nested_common()
    add = sub.add_parser("add", parents=[common], help="create an account (password asked, never in argv)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--admin", action="store_true", help="role admin (default: labeller)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    add.set_defaults(func=cmd_users_add)
    sub.add_parser("list", parents=[common], help="every account").set_defaults(func=cmd_users_list)
    disable = sub.add_parser("disable", parents=[common], help="disable an account (its answers stay)")
    disable.add_argument("name", metavar="NAME")
    disable.set_defaults(func=cmd_users_disable)


def read_password(*, from_stdin: bool) -> str:
    """The new password: stdin's first line, or typed twice at a terminal prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            password.encode("utf-8")  # stdin's odd bytes arrive as surrogates; argon2 hashes UTF-8
        except UnicodeEncodeError:
            raise HaverfordError("the password on stdin is not UTF-8 text; give it as UTF-8") from None
        return password
    if not sys.stdin.isatty():
        raise HaverfordError("no terminal to ask the password on; pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise HaverfordError("the two passwords differ; run the command again")
    return first


def _public(user: dict) -> dict:
    return {k: user[k] for k in ("name", "role", "disabled_at", "created_by", "created_at")}


def cmd_users_add(args) -> dict:
    from haverford.core import accounts
    from haverford.core.home import Home

    password = read_password(from_stdin=args.password_stdin)
    with contextlib.closing(Home(args.home).connect()) as db:
        return _public(accounts.add_user(db, args.name, password, admin=args.admin))


def cmd_users_list(args) -> dict:
    from haverford.core import accounts
    from haverford.core.home import Home

    with contextlib.closing(Home(args.home, create=False).connect()) as db:
        return {"accounts_on": accounts.accounts_on(db), "users": [_public(u) for u in accounts.list_users(db)]}


def cmd_users_disable(args) -> dict:
    from haverford.core import accounts
    from haverford.core.home import Home

    with contextlib.closing(Home(args.home, create=False).connect()) as db:
        return _public(accounts.disable_user(db, args.name))


def users_text(out: dict) -> str:
    if "users" not in out:
        return f"{out['name']} ({out['role']}){' disabled' if out['disabled_at'] else ''}"
    if not out["users"]:
        return "no accounts: the dashboard is open and asks only for a name"
    return "\n".join(f"{u['name']:<24} {u['role']:<9} {'disabled ' + u['disabled_at'] if u['disabled_at'] else 'active'}"
                     for u in out["users"])


# --- backup, restore, check -------------------------------------------------------------------

def configure_backup(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", help="new or empty folder to write the backup to")
    p.add_argument("--no-features", action="store_true",
                   help="list feature files in the manifest without copying them (they can be recomputed)")
    p.set_defaults(func=cmd_backup)


def cmd_backup(args) -> dict:
    from haverford.core.backup import backup
    from haverford.core.home import Home

    with FileProgress("backup", unit="file") as progress:
        out = backup(Home(args.home, create=False), args.out, features=not args.no_features, progress=progress)
    return {k: out[k] for k in ("path", "created_at", "schema_version", "counts", "missing", "seconds")} | {
        "files": len(out["files"])}


def backup_text(out: dict) -> str:
    c = out["counts"]
    text = (f"backup in {out['path']}: {c['answers']} answers, {c['tracks']} tracks, {c['models']} models, "
            f"{out['files']} files ({out['seconds']:.1f} s)")
    return text + (f"\n{len(out['missing'])} files named by the database were missing" if out["missing"] else "")


def configure_restore(p: argparse.ArgumentParser) -> None:
    p.add_argument("backup", metavar="OUT", help="a folder written by 'haverford backup'")
    p.add_argument("--replace", action="store_true",
                   help="replace the library already in the home (its database is kept in backups/)")
    p.set_defaults(func=cmd_restore)


def cmd_restore(args) -> dict:
    from haverford.core.backup import restore
    from haverford.core.home import Home

    with FileProgress("restore", unit="file") as progress:
        return restore(args.backup, Home(args.home), replace=args.replace, progress=progress)


def restore_text(out: dict) -> str:
    c = out["counts"]
    text = f"restored {c['answers']} answers, {c['tracks']} tracks, {c['models']} models into {out['home']}"
    for feature in out["features_to_rebuild"]:
        text += f"\nfeature files of {feature} were not in the backup: run 'haverford features --feature {feature}'"
    return text


def configure_check(p: argparse.ArgumentParser) -> None:
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> dict:
    """Print the report; exit 1 (after printing it) when anything is wrong."""
    from haverford.core.backup import check
    from haverford.core.home import Home

    out = check(Home(args.home, create=False))
    if out["ok"]:
        return out
    print(json.dumps(out) if args.json else check_text(out))
    problems = len(out["missing_features"]) + len(out["missing_models"]) + (out["integrity"] != ["ok"])
    raise HaverfordError(f"check found {problems} problem(s); restore from a backup "
                         f"('haverford restore OUT --replace') or rebuild features ('haverford features')")


def check_text(out: dict) -> str:
    lines = [f"integrity_check: {'; '.join(out['integrity'][:5])}",
             f"feature files: {out['features'] - len(out['missing_features'])} of {out['features']} present",
             f"model files: {out['models'] - len(out['missing_models'])} of {out['models']} present"]
    lines += [f"missing: {p}" for p in out["missing_features"][:20] + out["missing_models"]]
    return "\n".join(lines)
