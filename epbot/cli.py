"""The ``epbot`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from epbot.config import ConfigError, Settings, load_settings

Command = Callable[[argparse.Namespace, Settings, TextIO], int]


def _db_upgrade(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.adapters.db.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    out.write(f"database at {_safe_url(settings.database_url)} is at revision {args.revision}\n")
    return 0


def _serve(_args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.wiring import serve

    return serve(settings, out=out)


def _audit_verify(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    import asyncio

    from epbot.services.audit import verify_incident

    code, message = asyncio.run(verify_incident(settings.database_url, args.incident))
    out.write(message + "\n")
    return code


def _playbooks_check(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.playbooks_cli import check

    directory = Path(args.directory) if args.directory else settings.playbooks_dir
    matrix = Path(args.matrix) if args.matrix else (None if args.directory else settings.matrix)
    return check(directory, matrix, out)


def _playbooks_show(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.playbooks_cli import show

    return show(
        args.playbook, settings.playbooks_dir, settings.matrix, args.locale or settings.locale, out
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epbot", description="Emergency-plan bot for Slack (应急预案机器人)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the bot (HTTP mode, or Socket Mode with SLACK_APP_TOKEN)"
    )
    serve.set_defaults(run=_serve)

    db = sub.add_parser("db", help="database tasks").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(run=_db_upgrade)

    playbooks = sub.add_parser("playbooks", help="check or show the playbooks")
    pb_sub = playbooks.add_subparsers(dest="playbooks_command", required=True)
    check = pb_sub.add_parser("check", help="validate every playbook and the matrix")
    check.add_argument("directory", nargs="?", help="playbook folder (default EPBOT_PLAYBOOKS_DIR)")
    check.add_argument("--matrix", help="matrix file (default DIR/matrix.yaml or EPBOT_MATRIX)")
    check.set_defaults(run=_playbooks_check)
    show = pb_sub.add_parser("show", help="a playbook's procedure as a table")
    show.add_argument("playbook", help="playbook id or alias, e.g. db-crash")
    show.add_argument("--locale", choices=["zh-CN", "en"], help="default EPBOT_LOCALE")
    show.set_defaults(run=_playbooks_show)

    audit = sub.add_parser("audit", help="audit timeline tasks")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check an incident's hash-chained timeline")
    verify.add_argument("incident", help="incident id or number (2026-0007, DRILL-2026-0001)")
    verify.set_defaults(run=_audit_verify)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        run: Command = args.run
        return run(args, settings, out)
    except ConfigError as exc:
        sys.stderr.write(f"epbot: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
