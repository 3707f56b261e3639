"""The ``epbot`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from epbot.config import ConfigError, Settings, load_settings

Command = Callable[[argparse.Namespace, Settings, TextIO], int]

DATABASE_TIMEOUT = 5.0  # seconds to wait for the database at start-up
EXIT_CONFIG = 2
EXIT_DATABASE = 3


def _check_database(settings: Settings) -> None:
    """Raise DatabaseUnreachable unless the database answers within a few seconds."""
    import asyncio

    from epbot.adapters.db.engine import ping

    asyncio.run(ping(settings.database_url, within=DATABASE_TIMEOUT))


def _db_upgrade(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.adapters.db.engine import safe_url
    from epbot.adapters.db.migrate import upgrade

    _check_database(settings)
    upgrade(settings.database_url, args.revision)
    out.write(f"database at {safe_url(settings.database_url)} is at revision {args.revision}\n")
    return 0


def _serve(_args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.config import require_slack
    from epbot.logs import LogLines, logs_configured_as_json
    from epbot.wiring import load_library, serve

    # The start-up checks, in order: Slack credentials, playbooks, database (serve migrates).
    require_slack(settings)
    load_library(settings)
    _check_database(settings)
    return serve(settings, out=LogLines() if logs_configured_as_json() else out)


def _sandbox(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    import asyncio

    from epbot.sandbox import serve

    if "database_url" in settings.model_fields_set:  # else the sandbox's own SQLite file
        _check_database(settings)
    try:
        asyncio.run(serve(settings, out=out, host=args.host, port=args.port))
    except KeyboardInterrupt:
        out.write("epbot sandbox: stopped\n")
    except OSError as exc:
        raise ConfigError(f"the sandbox cannot listen: {exc}") from None
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    import asyncio

    from epbot.adapters.anchor_files import AnchorFileError, read_anchors
    from epbot.adapters.db.engine import make_engine
    from epbot.adapters.db.store import SqlStore
    from epbot.services.audit import AuditService

    try:
        anchors = read_anchors(args.anchor or [])
    except AnchorFileError as exc:
        return _fail(str(exc), 1)
    if args.from_slack:
        from epbot.adapters.slack.anchors import SlackAnchorError, anchors_from_slack

        try:
            found = asyncio.run(anchors_from_slack(settings, args.incident))
        except SlackAnchorError as exc:
            return _fail(str(exc), 1)
        if not found:
            sys.stderr.write("epbot: no audit anchor in the incident's Slack channel\n")
        anchors += found

    async def verify() -> tuple[int, str]:
        engine = make_engine(settings.database_url)
        try:
            return await AuditService(SqlStore(engine)).verify(args.incident, anchors)
        finally:
            await engine.dispose()

    code, message = asyncio.run(verify())
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


def _report_incident(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.reports_cli import report_incident

    return report_incident(settings, args.incident, args.format, args.output, out)


def _report_summary(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.reports_cli import report_summary

    return report_summary(settings, args.since, args.until, args.format, args.output, out)


def _drills_list(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from epbot.drills_cli import list_drills

    return list_drills(settings, args.count, out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epbot", description="Emergency-plan bot for Slack (应急预案机器人)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the bot (HTTP mode, or Socket Mode with SLACK_APP_TOKEN)"
    )
    serve.set_defaults(run=_serve)

    sandbox = sub.add_parser(
        "sandbox",
        help="try epbot in a browser: the real bot in an emulated Slack workspace "
        "(no Slack app needed)",
    )
    sandbox.add_argument("--host", help="address to listen on (default EPBOT_HOST)")
    sandbox.add_argument("--port", type=int, help="port to listen on (default EPBOT_PORT, 3000)")
    sandbox.set_defaults(run=_sandbox)

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
    verify.add_argument(
        "--anchor",
        action="append",
        metavar="PATH",
        help="an exported report (or a folder of them): the table must still hold the entries "
        "its audit anchor pinned (repeatable; the longest anchor of the incident counts)",
    )
    verify.add_argument(
        "--from-slack",
        action="store_true",
        help="also check against the last audit anchor the bot posted in the incident's "
        "channel (closing report, /incident report; needs SLACK_BOT_TOKEN)",
    )
    verify.set_defaults(run=_audit_verify)

    report = sub.add_parser("report", help="after-action reports and figures, as files")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    one = report_sub.add_parser("incident", help="one incident's after-action report")
    one.add_argument("incident", help="number (2026-0007, DRILL-2026-0003), channel id or name")
    one.add_argument("--format", default="md", help="md, json, html or pdf (default md)")
    one.add_argument("--output", "-o", help="file to write (default: stdout; pdf: NUMBER.pdf)")
    one.set_defaults(run=_report_incident)
    summary = report_sub.add_parser("summary", help="figures across incidents, drills apart")
    summary.add_argument("--since", help="first day (YYYY-MM-DD, in EPBOT_TIMEZONE)")
    summary.add_argument("--until", help="last day, included (YYYY-MM-DD)")
    summary.add_argument("--format", default="md", help="json, md or csv (default md)")
    summary.add_argument("--output", "-o", help="file to write (default: stdout)")
    summary.set_defaults(run=_report_summary)

    drills = sub.add_parser("drills", help="the drill programme (playbooks/drills.yaml)")
    drills_sub = drills.add_subparsers(dest="drills_command", required=True)
    listing = drills_sub.add_parser("list", help="each scheduled drill and its next runs")
    listing.add_argument("--count", type=int, default=3, help="next runs per drill (default 3)")
    listing.set_defaults(run=_drills_list)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; start-up failures print one line (no traceback) and exit nonzero.

    Exit codes: 2 bad configuration or playbooks, 3 database unreachable.
    """
    from epbot.adapters.db.engine import DatabaseUnreachable
    from epbot.logs import configure_logging

    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    # The real entry point also routes uncaught exceptions through the redacting handler.
    configure_logging(settings, install_hooks=argv is None)
    try:
        run: Command = args.run
        return run(args, settings, out)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG, settings)
    except DatabaseUnreachable as exc:
        return _fail(str(exc), EXIT_DATABASE, settings)


def _fail(message: str, code: int, settings: Settings | None = None) -> int:
    """One message on stderr (a JSON record under JSON logging), secrets removed."""
    from epbot.logs import RedactSecrets, logs_configured_as_json, secrets_of

    if settings is not None and logs_configured_as_json():
        logging.getLogger("epbot").critical("%s", message)
    else:
        redact = RedactSecrets(secrets_of(settings) if settings else ()).redact
        sys.stderr.write(f"epbot: {redact(message)}\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
