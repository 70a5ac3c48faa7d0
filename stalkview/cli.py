"""The stalkview command line: ``stalkview ADDRESS`` opens the UI, subcommands script the server.

Subcommands never import textual; the UI and the demo are imported only when asked for.
Each subcommand imports inside its function what only it needs (binlog, log probe,
journal, transfer, demo): only to keep them out of every command's start-up (together
~0.3 s beside ~0.3 s for ``import stalkview.cli``, ``python -X importtime``, 2026-11-29).
Every failure the user can cause ends in one line on stderr and a status: 1 for
a server or address problem, 2 for a usage error, 130 for Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from stalkview import __version__
from stalkview import format as fmt
from stalkview.app import run_app, run_fleet_app
from stalkview.client import (
    AddressError,
    Client,
    CommandTimeoutError,
    Error,
    NotFoundError,
    commands,
    parse_address,
)
from stalkview.client.protocol import check_tube
from stalkview.config import Config, ConfigError, Target, load_config
from stalkview.inventory import STATES, Inventory, JobInfo, ScanProgress

PROG = "stalkview"
PREVIEW = 60
#: Options of the app command line that take a value (skipped when looking for the address).
_VALUE_OPTIONS = ("--interval", "--config", "--scan-budget", "--binlog")


class CliError(Exception):
    """A problem to report in one line, with exit status 1."""


class UsageError(CliError):
    """A command line that cannot work as given: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


# --- parsers --------------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number: give a percentage of one server CPU, e.g. 25"
        ) from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: give a percentage of one server CPU, more than 0 "
            "and at most 100 (100 is full speed)"
        )
    return value


def _scan_budget_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scan-budget",
        type=_budget,
        default=None,
        metavar="PCT",
        help="most of one server CPU the job scan may take, in percent, measured from the "
        "server's own rusage (default: the config's scan_budget, else 25; 100: full speed)",
    )


def _job_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 20 or not 0 < int(text) < 2**64:
        raise CliError(f"job id {fmt.printable(text, 40)!r} is invalid: ids are 1 to {2**64 - 1}")
    return int(text)


#: Seconds a command may wait without any reply before it gives up (--timeout).
DEFAULT_TIMEOUT = 10.0


def _timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="give up when the server sends nothing for S seconds (default: "
        f"{DEFAULT_TIMEOUT:g}); a long transfer that keeps receiving is not cut",
    )


def _tube_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--tube", help=help)


def _check_tube_option(tube: str | None) -> None:
    """``--tube`` as the server would take it, or a one-line error (as import does)."""
    if tube is not None:
        try:
            check_tube(tube)
        except ValueError as exc:
            raise CliError(f"--tube: {exc}") from None


def _force_write_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force-write",
        action="store_true",
        help="write even to a server the config saves as read_only",
    )


def _config_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # Subparsers must not reset a --config given before the subcommand.
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="the file of saved servers and groups "
        "(default: $STALKVIEW_CONFIG or ~/.config/stalkview/config.toml)",
    )


def _app_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=_positive,
        default=None,
        metavar="S",
        help="seconds between refreshes (default: the config's interval, else 1)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="disable every action that changes the server"
    )
    _scan_budget_option(parser)


def _app_binlog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--binlog",
        metavar="DIR",
        help="with ADDRESS: the server's -b directory, whose job ids the inventory reads "
        "(found by itself for a server on this machine); alone: show a stopped server's "
        "log, read-only",
    )


ADDRESS_HELP = (
    "host:port, [v6]:port, a Unix socket path (port defaults to 11300), "
    "or a server name saved in the config"
)


def _address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help=ADDRESS_HELP)
    _config_option(parser)


def _address_or_log(parser: argparse.ArgumentParser, live: str) -> None:
    """ADDRESS, optional when ``--binlog DIR`` names a log to read instead."""
    parser.add_argument(
        "address",
        metavar="ADDRESS",
        nargs="?",
        help=ADDRESS_HELP + " (leave out with --binlog: read the log alone)",
    )
    _config_option(parser)
    parser.add_argument(
        "--binlog",
        metavar="DIR",
        help=f"beanstalkd's -b directory; with ADDRESS {live}, without it the jobs "
        "a restart would bring back are read from the log alone (a stopped or crashed server)",
    )


def _addresses(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "addresses",
        metavar="ADDRESS",
        nargs="+",
        help=ADDRESS_HELP + " or group; several servers are queried at once",
    )
    _config_option(parser)


def build_parser() -> argparse.ArgumentParser:
    """The subcommand parser (``stalkview stats|tubes|jobs|peek|demo ...``)."""
    parser = _Parser(
        prog=PROG,
        description="See and operate beanstalkd work queues from the terminal.",
        usage=f"{PROG} ADDRESS|NAME ... [--interval S] [--read-only] [--binlog DIR] "
        "[--config PATH]\n"
        f"       {PROG} --binlog DIR   (a stopped server's log, read-only)\n"
        f"       {PROG} --demo | demo\n"
        f"       {PROG} {{stats,tubes,jobs,peek,binlog,export,import,journal}} ADDRESS ...",
        epilog="examples:\n"
        f"  {PROG} localhost:11300          open the UI\n"
        f"  {PROG} prod                     open a server or group saved in the config\n"
        f"  {PROG} tubes host1 host2:11301 --json\n"
        f"  {PROG} export localhost --tube emails -o emails.jsonl\n"
        f"  {PROG} jobs localhost --state buried --tube emails\n"
        f"  {PROG} jobs /run/beanstalkd.sock --json --bodies > jobs.jsonl\n\n"
        f"Run '{PROG} COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--demo", action="store_true", help="open the UI on a built-in demo server")
    _app_options(parser)
    _app_binlog_option(parser)
    _config_option(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            prog=f"{PROG} {name}",
            help=help,
            description=help,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add(
        "stats",
        "print each server's stats",
        f"{PROG} stats localhost:11300\n  {PROG} stats prod --json",
    )
    _addresses(p)
    p.add_argument(
        "--json",
        action="store_true",
        help='print JSON Lines, one object a server (with a "server" key)',
    )
    _timeout_option(p)

    p = add(
        "tubes",
        "print one row a tube (a server) with its job counts",
        f"{PROG} tubes localhost\n  {PROG} tubes host1 host2 --json",
    )
    _addresses(p)
    p.add_argument(
        "--json",
        action="store_true",
        help='print JSON Lines, one object a tube a server (with a "server" key)',
    )
    _timeout_option(p)

    p = add(
        "jobs",
        "list every job, in the order the server will hand them out",
        f"{PROG} jobs localhost:11300 --tube emails --state buried --json --bodies\n"
        f"  {PROG} jobs --binlog /var/lib/beanstalkd      (a stopped server: its log alone)",
    )
    _address_or_log(p, "the inventory starts from the log's job ids (no id scan)")
    _tube_option(p, "only jobs in this tube")
    p.add_argument("--state", choices=STATES, help="only jobs in this state")
    p.add_argument("--bodies", action="store_true", help="include bodies (a preview in tables)")
    _timeout_option(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON Lines as the jobs are found (the heads of each tube and state "
        "first, then newest first): stats-job fields under the server's names (+ body)",
    )
    _scan_budget_option(p)

    p = add(
        "peek",
        "print one job's stats and body",
        f"{PROG} peek localhost:11300 42\n  {PROG} peek --binlog /var/lib/beanstalkd 42",
    )
    _address_or_log(p, "the server answers (the log is not needed for one job)")
    p.add_argument("id", metavar="ID", help="the job id")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _timeout_option(p)

    p = add(
        "export",
        "write jobs with their fields and bodies as JSON Lines",
        f"{PROG} export localhost --tube emails --state buried -o buried.jsonl\n"
        f"  {PROG} export --binlog /var/lib/beanstalkd -o jobs.jsonl   (then: import NEWADDR)",
    )
    _address_or_log(p, "the inventory starts from the log's job ids (no id scan)")
    _tube_option(p, "only jobs in this tube")
    p.add_argument("--state", choices=STATES, help="only jobs in this state")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    _scan_budget_option(p)
    _timeout_option(p)

    p = add(
        "import",
        "put the jobs of a JSON Lines file (an export or the journal) into a server",
        f"{PROG} import localhost:11301 buried.jsonl --dry-run\n"
        f"  {PROG} export old-host | {PROG} import new-host -",
    )
    _address(p)
    p.add_argument("file", metavar="FILE", help="the JSON Lines file; - reads stdin")
    p.add_argument("--tube", help="put every job into this tube instead of its own")
    p.add_argument("--dry-run", action="store_true", help="say what would be put, put nothing")
    p.add_argument(
        "--restart",
        action="store_true",
        help="ignore the progress of an earlier interrupted import of this file; put every line",
    )
    _force_write_option(p)
    _timeout_option(p)

    p = add(
        "binlog",
        "how big the binlog is against the live data, what writes it, which jobs keep it",
        f"{PROG} binlog localhost:11300 --window 5\n  {PROG} binlog prod --json\n"
        f"  {PROG} binlog --binlog /var/lib/beanstalkd      (a stopped server: the files alone)",
    )
    _address_or_log(p, "the sizes are the files' own and a table says what each file holds")
    p.add_argument(
        "--window",
        type=_positive,
        default=3.0,
        metavar="S",
        help="seconds between the two readings the rates come from (default: 3)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add(
        "parked",
        "list jobs an interrupted import, move or restore left parked; bury or release them",
        f"{PROG} parked localhost:11300\n  {PROG} parked localhost:11300 --bury",
    )
    _address(p)
    _tube_option(p, "only jobs in this tube")
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--bury", action="store_true", help="finish them: bury each (what the operation meant)"
    )
    what.add_argument("--release", action="store_true", help="make each ready for the workers")
    _force_write_option(p)
    _timeout_option(p)

    p = add("demo", "open the UI on a built-in demo server", f"{PROG} demo --read-only")
    _app_options(p)

    p = add(
        "journal",
        "list or restore the jobs stalkview deleted or moved",
        f"{PROG} journal list\n  {PROG} journal restore 3 5-9 id:1234 --dry-run\n"
        f"  {PROG} journal restore all --to localhost:11300 --tube recovered",
    )
    jsub = p.add_subparsers(dest="journal_command", metavar="ACTION", parser_class=_Parser)
    jsub.required = True
    jl = jsub.add_parser(
        "list",
        prog=f"{PROG} journal list",
        help="list journaled jobs, oldest first",
        description="List the jobs stalkview deleted or moved (the journal), oldest first.",
    )
    jl.add_argument("--json", action="store_true", help="print JSON Lines, one entry a line")
    jr = jsub.add_parser(
        "restore",
        prog=f"{PROG} journal restore",
        help="put journaled jobs back",
        description="Put journaled jobs back with their priority, ttr and remaining delay.",
        epilog="selectors: all, N (an entry number from 'journal list'), N-M, id:JOB\n"
        "example:\n  " + f"{PROG} journal restore 5-9 --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    jr.add_argument("selectors", nargs="+", metavar="SELECTOR", help="which entries to restore")
    jr.add_argument(
        "--to",
        metavar="ADDRESS",
        help="restore onto this server (default: each job's own server)",
    )
    jr.add_argument("--tube", help="put every job into this tube instead of its own")
    jr.add_argument("--dry-run", action="store_true", help="say what would be put, put nothing")
    jr.add_argument("--again", action="store_true", help="also restore entries restored before")
    _force_write_option(jr)
    for q in (jl, jr):
        q.add_argument(
            "--journal",
            metavar="PATH",
            help="the journal file (default: $STALKVIEW_JOURNAL or the user data directory)",
        )
    _config_option(jr)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    """The parser for ``stalkview ADDRESS [--interval S] [--read-only]``."""
    parser = _Parser(
        prog=PROG,
        description="Open the stalkview UI on one or more beanstalkd servers.",
        epilog=f"examples:\n  {PROG} localhost:11300 --interval 2 --read-only\n"
        f"  {PROG} prod            (a server or group saved in the config)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("addresses", metavar="ADDRESS", nargs="+", help=ADDRESS_HELP + " or group")
    _app_options(parser)
    _app_binlog_option(parser)
    _config_option(parser, top=True)
    return parser


def _first_positional(argv: Sequence[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--":
            return None
        if arg in _VALUE_OPTIONS:
            skip = True
            continue
        if not arg.startswith("-") or arg == "-":
            return arg
    return None


# --- output helpers -------------------------------------------------------------------


def _print_lines(lines: Sequence[str], out: IO[str] | None = None) -> None:
    stream = out or sys.stdout
    stream.write("".join(line + "\n" for line in lines))


def _body_fields(body: bytes) -> dict[str, Any]:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "body_encoding": "base64"}


def _json_line(obj: dict[str, Any]) -> str:
    return fmt.json_line(obj)


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.drawn = False

    def __call__(self, p: ScanProgress) -> None:
        if not self.enabled:
            return
        bar = fmt.progress_bar(p.found, p.expected, width=20)
        line = f"{bar}  {p.summary()}"
        if p.missing:
            line += f" · {p.missing[0]}"
        width = shutil.get_terminal_size((120, 24)).columns - 1
        self.stream.write(f"\r{line[:width]}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# --- subcommands ----------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _scan_budget(args: argparse.Namespace) -> float:
    """--scan-budget, else the config's scan_budget (25 without one)."""
    given: float | None = getattr(args, "scan_budget", None)
    return given if given is not None else _config(args).scan_budget


def _targets(args: argparse.Namespace, words: Sequence[str]) -> list[Target]:
    """Saved names, groups and addresses as targets (errors as one-line CliErrors)."""
    try:
        return _config(args).resolve(words)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _one_target(args: argparse.Namespace, word: str) -> Target:
    targets = _targets(args, [word])
    if len(targets) != 1:
        names = ", ".join(t.label for t in targets)
        raise CliError(
            f"'{args.command}' works on one server, and {word!r} is a group of "
            f"{len(targets)} ({names}): name one of them"
        )
    return targets[0]


def _address_of(args: argparse.Namespace) -> str:
    return _one_target(args, args.address).address


async def _connect(address: str, timeout: float = DEFAULT_TIMEOUT) -> Client:
    client = Client(
        parse_address(address),
        encoding=None,
        connect_timeout=min(timeout, 5.0),
        command_timeout=timeout,
    )
    await client.open()
    return client


async def _each_server(
    targets: Sequence[Target],
    fetch: Callable[[Client], Coroutine[Any, Any, Any]],
    timeout: float = DEFAULT_TIMEOUT,
) -> list[tuple[Target, Any, str | None]]:
    """Run ``fetch`` on every target at once: (target, result, None) or (target, None, why)."""

    async def one(target: Target) -> tuple[Target, Any, str | None]:
        try:
            client = await _connect(target.address, timeout)
        except Error as exc:
            return target, None, _reason(target, exc)
        try:
            return target, await fetch(client), None
        except Error as exc:
            return target, None, _reason(target, exc)
        finally:
            await client.close()

    return list(await asyncio.gather(*(one(t) for t in targets)))


def _reason(target: Target, exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    # Connection errors already start with the address (as given, or as parsed).
    if target.name is None and text.startswith((target.address, _parsed(target.address))):
        return text
    prefix = f"{target.name} ({target.address})" if target.name else target.address
    return f"{prefix}: {text}"


def _parsed(address: str) -> str:
    try:
        return str(parse_address(address))
    except AddressError:
        return address


def _report_down(results: Sequence[tuple[Target, Any, str | None]]) -> int:
    failed = [why for _t, _r, why in results if why is not None]
    for why in failed:
        _fail(why)
    return 1 if failed else 0


async def cmd_stats(args: argparse.Namespace) -> int:
    targets = _targets(args, args.addresses)
    results = await _each_server(targets, lambda c: c.stats(), args.timeout)
    several = len(targets) > 1
    blocks: list[str] = []
    for target, stats, why in results:
        if why is not None:
            continue
        if args.json:
            blocks.append(_json_line({"server": target.label, **stats}))
            continue
        if several:
            if blocks:
                blocks.append("")
            title = target.label if target.name is None else f"{target.label} ({target.address})"
            blocks.append(f"== {title} ==")
        blocks += fmt.table(["stat", "value"], stats.items(), align="<<")
    _print_lines(blocks)
    sys.stdout.flush()
    return _report_down(results)


TUBE_COLUMNS = (
    ("tube", "name"),
    ("ready", "current-jobs-ready"),
    ("urgent", "current-jobs-urgent"),
    ("delayed", "current-jobs-delayed"),
    ("reserved", "current-jobs-reserved"),
    ("buried", "current-jobs-buried"),
    ("total", "total-jobs"),
    ("using", "current-using"),
    ("watching", "current-watching"),
    ("waiting", "current-waiting"),
    ("paused", "pause-time-left"),
)


async def tube_stats(client: Client) -> list[dict[str, Any]]:
    """stats-tube of every tube, pipelined; tubes that vanished meanwhile are left out."""
    names = await client.tubes()
    replies = await client.run_many([commands.stats_tube(t) for t in names])
    out = []
    for reply in replies:
        if isinstance(reply, NotFoundError):
            continue
        if isinstance(reply, Error):
            raise reply
        out.append(reply)
    return out


async def cmd_tubes(args: argparse.Namespace) -> int:
    targets = _targets(args, args.addresses)
    results = await _each_server(targets, tube_stats, args.timeout)
    several = len(targets) > 1
    if args.json:
        _print_lines(
            [
                _json_line({"server": target.label, **t})
                for target, tubes, why in results
                if why is None
                for t in tubes
            ]
        )
    else:
        rows = []
        for target, tubes, why in results:
            if why is not None:
                continue
            for t in tubes:
                row: list[object] = [t.get(key, "") for _title, key in TUBE_COLUMNS]
                paused = int(t.get("pause-time-left", 0) or 0)
                row[-1] = fmt.duration(paused) if paused else "-"
                rows.append([target.label, *row] if several else row)
        headers = [title for title, _key in TUBE_COLUMNS]
        if several:
            headers = ["server", *headers]
        align = "<<" + ">" * (len(headers) - 2) if several else None
        # An empty table is useful when a server answered with no tubes; when
        # none answered it is only noise above the error.
        if rows or any(why is None for _target, _tubes, why in results):
            _print_lines(fmt.table(headers, rows, align=align))
    sys.stdout.flush()
    return _report_down(results)


JOB_COLUMNS = (
    "id",
    "tube",
    "state",
    "pri",
    "age",
    "time-left",
    "ttr",
    "reserves",
    "timeouts",
    "releases",
    "buries",
    "kicks",
)


def _job_row(job: JobInfo, now: float) -> list[object]:
    left = job.time_left_now(now)
    return [
        job.id,
        job.tube,
        job.state,
        job.pri,
        fmt.duration(job.age_now(now)),
        fmt.duration(left) if job.state in ("delayed", "reserved") else "-",
        fmt.duration(job.ttr),
        job.reserves,
        job.timeouts,
        job.releases,
        job.buries,
        job.kicks,
    ]


def _read_log(directory: str) -> Any:
    """The binlog in ``directory``, read (problems on stderr), or a one-line CliError."""
    from stalkview.binlog import BinlogError
    from stalkview.recovery import read_log

    try:
        log = read_log(directory)
    except BinlogError as exc:
        raise CliError(str(exc)) from None
    for problem in log.problems:
        sys.stderr.write(f"{PROG}: warning: {problem}; the server would stop reading there too\n")
    return log


def _need_address_or_log(args: argparse.Namespace) -> None:
    if args.address is None and not args.binlog:
        raise UsageError(
            f"'{args.command}' needs a server ADDRESS, or --binlog DIR to read a stopped "
            "server's log"
        )


def _log_source(args: argparse.Namespace, target: Target) -> Any:
    """The server's binlog as the inventory's candidate source: ``--binlog DIR``, the
    config's ``binlog``, or the -b of a beanstalkd on this machine (else None)."""
    from stalkview.binlog import BinlogSource
    from stalkview.binlogfind import find_binlog

    directory = getattr(args, "binlog", None) or target.binlog or find_binlog(target.address)
    return BinlogSource(directory) if directory else None


def _found_by(inventory: Inventory) -> str:
    return "" if inventory.found_by == "id scan" else f", found by {inventory.found_by}"


async def cmd_jobs(args: argparse.Namespace) -> int:
    _need_address_or_log(args)
    _check_tube_option(args.tube)
    if args.address is None:
        return _jobs_from_log(args)
    target = _one_target(args, args.address)
    client = await _connect(target.address, args.timeout)
    progress = _Progress(sys.stderr)
    try:
        inventory = Inventory(client, budget=_scan_budget(args), source=_log_source(args, target))
        if args.json:
            try:
                await _stream_jobs(inventory, args, progress)
            finally:
                progress.clear()
            _warn_parked(inventory.select(args.tube, None))
            return 0
        try:
            await inventory.scan(progress)
        finally:
            progress.clear()
        jobs = inventory.select(args.tube, args.state)
        bodies: dict[int, bytes] = {}
        if args.bodies and jobs:
            bodies = await inventory.peek_bodies([j.id for j in jobs], limit=PREVIEW * 4)
    finally:
        await client.close()
    _print_jobs(args, jobs, bodies, _found_by(inventory))
    _warn_parked(inventory.select(args.tube, None))
    return 0


def _warn_parked(jobs: Sequence[JobInfo]) -> None:
    """Name jobs left parked in the tubes listed: never leave them silently."""
    from stalkview.ops import parked_note

    parked = _parked_in(jobs)
    if parked:
        sys.stderr.write(
            f"{PROG}: note: {parked_note(len(parked), (j.tube for j in parked), PARKED_FIX)}\n"
        )


def _jobs_from_log(args: argparse.Namespace) -> int:
    from stalkview.recovery import describe, log_jobs

    log = _read_log(args.binlog)
    jobs = log_jobs(log, args.tube, args.state)
    bodies: dict[int, bytes] = {}
    if args.bodies:
        limit = None if args.json else PREVIEW * 4
        by_id = {j.id: log.jobs[j.id] for j in jobs}
        bodies = {
            job.id: body if limit is None else body[:limit]
            for job, body in log.bodies(list(by_id.values()))
        }
    if not args.json:
        sys.stderr.write(f"from the log {describe(log)} (not a live server)\n")
    _print_jobs(args, jobs, bodies)
    return 0


def _print_jobs(
    args: argparse.Namespace, jobs: list[JobInfo], bodies: dict[int, bytes], how: str = ""
) -> None:
    import time

    if args.json:
        out = []
        for job in jobs:
            obj = job.to_stats()
            if args.bodies:
                body = bodies.get(job.id)
                if body is None:
                    continue  # deleted since the scan
                obj.update(_body_fields(body))
            out.append(_json_line(obj))
        _print_lines(out)
        return
    now = time.monotonic()
    headers = list(JOB_COLUMNS) + (["body"] if args.bodies else [])
    rows = []
    for job in jobs:
        row = _job_row(job, now)
        if args.bodies:
            body = bodies.get(job.id)
            row.append("(gone)" if body is None else fmt.body_preview(body, PREVIEW))
        rows.append(row)
    align = ["<" if h in ("tube", "state", "body") else ">" for h in headers]
    _print_lines(fmt.table(headers, rows, align=align))
    scope = " ".join(x for x in (args.tube and f"tube {args.tube}", args.state) if x)
    sys.stderr.write(f"{_n_jobs(len(jobs))}{' (' + scope + ')' if scope else ''}{how}\n")


def _peek_log(args: argparse.Namespace) -> tuple[dict[str, Any], bytes]:
    log = _read_log(args.binlog)
    job = log.jobs.get(args.id)
    if job is None:
        raise CliError(
            f"job {args.id} is not in the log {args.binlog}: it was deleted, or put while "
            "the server ran without -b"
        )
    return job.to_stats(), log.body(job)


async def _stream_jobs(inventory: Inventory, args: argparse.Namespace, progress: _Progress) -> None:
    """Print each job as JSON as soon as the scan finds it (bodies read per batch):
    the heads of each tube and state first, then newest first. A job is printed
    once, as it was when found; one deleted before its body was read is left out."""
    found: asyncio.Queue[list[JobInfo] | None] = asyncio.Queue()

    def on_jobs(jobs: list[JobInfo]) -> None:
        wanted = [
            j
            for j in jobs
            if (args.tube is None or j.tube == args.tube)
            and (args.state is None or j.state == args.state)
        ]
        if wanted:
            found.put_nowait(wanted)

    scan = asyncio.ensure_future(inventory.scan(progress, on_jobs))
    scan.add_done_callback(lambda _task: found.put_nowait(None))
    try:
        while (batch := await found.get()) is not None:
            bodies: dict[int, bytes] = {}
            if args.bodies:
                bodies = await inventory.peek_bodies([j.id for j in batch])
            lines = []
            for job in batch:
                obj = job.to_stats()
                if args.bodies:
                    body = bodies.get(job.id)
                    if body is None:
                        continue  # deleted since it was found
                    obj.update(_body_fields(body))
                lines.append(_json_line(obj))
            progress.clear()
            _print_lines(lines)
            sys.stdout.flush()
        await scan
    finally:
        scan.cancel()


async def cmd_peek(args: argparse.Namespace) -> int:
    _need_address_or_log(args)
    args.id = _job_id(args.id)
    if args.address is None:
        stats, body = _peek_log(args)
        return _print_peek(args, stats, body)
    client = await _connect(_address_of(args), args.timeout)
    try:
        stats, job = await client.run_many([commands.stats_job(args.id), commands.peek(args.id)])
    finally:
        await client.close()
    for reply in (stats, job):
        if isinstance(reply, NotFoundError):
            raise CliError(
                f"job {args.id} not found on {args.address}: it was deleted or never existed"
            )
        if isinstance(reply, Error):
            raise reply
    return _print_peek(args, stats, job.body)


def _print_peek(args: argparse.Namespace, stats: dict[str, Any], body: bytes) -> int:
    if args.json:
        print(_json_line({**stats, **_body_fields(body)}))
        return 0
    _print_lines(fmt.table(["field", "value"], stats.items(), align="<<"))
    print(f"body ({fmt.size(len(body))}):")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        print(f"<binary: {len(body)} bytes, shown as base64>")
        text = base64.b64encode(body).decode("ascii")
    print("\n".join(fmt.printable(line) for line in text.split("\n")))
    return 0


async def cmd_binlog(args: argparse.Namespace) -> int:
    from stalkview.binlog import BinlogError
    from stalkview.binlogfind import find_binlog
    from stalkview.logprobe import LogDir, sample
    from stalkview.model.logsize import HELP, report_lines

    _need_address_or_log(args)
    try:
        if args.address is None:
            offline = LogDir(args.binlog)
            await asyncio.to_thread(offline.read)
            return _binlog_offline(args, offline)
        target = _one_target(args, args.address)
        # --binlog DIR, the config's binlog, or the -b of a beanstalkd on this machine.
        directory = args.binlog or target.binlog or find_binlog(target.address)
        log_dir: LogDir | None = LogDir(directory) if directory else None
        client = await _connect(target.address)
        try:
            if log_dir is not None:
                why = log_dir.mismatch(await client.stats())
                if why is not None and args.binlog:
                    raise CliError(f"--binlog {args.binlog}: {why}")
                if why is not None:
                    sys.stderr.write(f"{PROG}: warning: not reading {directory}: {why}\n")
                    log_dir = None
            report = await sample(client, args.window, log_dir=log_dir)
        finally:
            await client.close()
    except BinlogError as exc:
        raise CliError(str(exc)) from None
    if report is None:
        raise CliError(
            f"{args.address} keeps no binlog (binlog-current-index is 0): "
            "beanstalkd writes one only when started with -b DIR"
        )
    facts = None if log_dir is None else log_dir.facts()
    if args.json:
        extra: dict[str, Any] = {}
        if facts is not None and log_dir is not None:
            extra = {"binlog_dir": log_dir.directory, "files_detail": [f.to_dict() for f in facts]}
        print(_json_line({"server": args.address, **report.to_dict(), **extra}))
        return 0
    _print_lines(report_lines(report))
    if facts is not None and log_dir is not None:
        _print_lines(["", f"files in {fmt.printable(log_dir.directory)}:", *_file_table(facts)])
    if report.runaway:
        _print_lines(["", *HELP.splitlines()])
    return 0


def _file_table(facts: Sequence[Any]) -> list[str]:
    from stalkview.model.logsize import files_lines

    lines = files_lines(facts, 0, 0)
    # The totals are the server report's: keep the table and the oldest file's jobs.
    return lines[lines.index("") + 1 :]


def _binlog_offline(args: argparse.Namespace, log_dir: Any) -> int:
    """The report from the files alone: which jobs each file holds and why it stays."""
    from stalkview.model.logsize import HELP, RUNAWAY_FACTOR, RUNAWAY_FILES, files_lines

    facts = log_dir.facts()
    jobs = len(log_dir.log.jobs)
    live = log_dir.live_bytes
    records = log_dir.live_record_bytes
    size = log_dir.disk_bytes
    problems = list(log_dir.log.problems)
    if args.json:
        print(
            _json_line(
                {
                    "directory": args.binlog,
                    "files": len(facts),
                    "bytes": size,
                    "written_bytes": sum(f.written for f in facts),
                    "live_jobs": jobs,
                    "live_bytes": live,
                    "live_record_bytes": records,
                    "amplification": round(size / records, 2) if records else None,
                    "files_detail": [f.to_dict() for f in facts],
                    "problems": problems,
                }
            )
        )
        return 0
    lines = files_lines(facts, jobs, live, records)
    lines += [f"problem: {fmt.printable(p)}" for p in problems]
    _print_lines(lines)
    if len(facts) >= RUNAWAY_FILES and (not records or size >= RUNAWAY_FACTOR * records):
        _print_lines(["", *HELP.splitlines()])
    return 0


async def cmd_journal(args: argparse.Namespace) -> int:
    from stalkview.journal import SelectorError, journal_list, journal_restore
    from stalkview.paths import journal_path

    path = Path(args.journal) if args.journal else journal_path()
    if path.is_dir():
        raise CliError(
            f"the journal {path} is a directory: give a file path "
            "(--journal PATH or STALKVIEW_JOURNAL)"
        )
    if args.journal_command == "list":
        sys.stdout.write(journal_list(args.journal, json=args.json))
        return 0
    to_target = _one_target(args, args.to) if args.to else None
    to = to_target.address if to_target else None

    def check_writable(address: str) -> None:
        saved = to_target.read_only if to_target is not None else False
        _refuse_read_only(args, to_target.label if to_target else address, address, saved)

    try:
        report = await journal_restore(
            to,
            args.journal,
            args.selectors,
            tube=args.tube,
            dry_run=args.dry_run,
            again=args.again,
            check_writable=check_writable,
        )
    except (SelectorError, ValueError) as exc:
        raise CliError(str(exc)) from None
    _print_lines(report.lines())
    return 1 if report.failed else 0


class _CountProgress:
    """``N of M jobs`` on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: IO[str], verb: str) -> None:
        self.inner = _Progress(stream)
        self.verb = verb

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.inner.enabled:
            return
        of = f" of {fmt.count(total)}" if total is not None else ""
        self.inner.stream.write(f"\r{self.verb} {fmt.count(done)}{of} jobs\x1b[K")
        self.inner.stream.flush()
        self.inner.drawn = True

    def clear(self) -> None:
        self.inner.clear()


async def cmd_export(args: argparse.Namespace) -> int:
    from stalkview.transfer import export_jobs

    _need_address_or_log(args)
    if args.address is None:
        return _export_log(args)
    target = _one_target(args, args.address)
    _check_tube_option(args.tube)
    progress = _CountProgress(sys.stderr, "exported")
    source = _log_source(args, target)
    client = await _connect(target.address, args.timeout)
    try:
        if args.output in (None, "-"):
            count = await export_jobs(
                client,
                tube=args.tube,
                state=args.state,
                out=sys.stdout,
                server_label=target.label,
                on_progress=progress,
                scan_budget=_scan_budget(args),
                source=source,
            )
        else:
            try:
                stream = open(args.output, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
            with stream:
                count = await export_jobs(
                    client,
                    tube=args.tube,
                    state=args.state,
                    out=stream,
                    server_label=target.label,
                    on_progress=progress,
                    scan_budget=_scan_budget(args),
                    source=source,
                )
    finally:
        progress.clear()
        await client.close()
    where = "" if args.output in (None, "-") else f" to {args.output}"
    sys.stderr.write(f"exported {_n_jobs(count)} from {target.label}{where}\n")
    return 0


def _export_log(args: argparse.Namespace) -> int:
    from stalkview.recovery import describe, export_log

    log = _read_log(args.binlog)
    progress = _CountProgress(sys.stderr, "exported")
    try:
        if args.output in (None, "-"):
            count = export_log(
                log, sys.stdout, tube=args.tube, state=args.state, on_progress=progress
            )
        else:
            try:
                stream = open(args.output, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
            with stream:
                count = export_log(
                    log, stream, tube=args.tube, state=args.state, on_progress=progress
                )
    finally:
        progress.clear()
    where = "" if args.output in (None, "-") else f" to {args.output}"
    sys.stderr.write(
        f"exported {_n_jobs(count)} from the log {describe(log)}{where}; "
        "reserved jobs as ready, delayed ones with the delay left now\n"
    )
    return 0


def _n_jobs(n: int) -> str:
    return f"{fmt.count(n)} job" if n == 1 else f"{fmt.count(n)} jobs"


def _read_lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    try:
        stream = open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    with stream:
        yield from stream


def _refuse_read_only(args: argparse.Namespace, label: str, address: str, saved: bool) -> None:
    """A writing command stops here when the config saves the target read-only."""
    if args.force_write:
        return
    config = _config(args)
    if saved or config.saved_read_only(address):
        where = f" ({config.path})" if config.path else ""
        raise CliError(
            f"{label} is read-only in the config{where}: '{args.command}' would write to it; "
            "add --force-write to write anyway"
        )


async def _max_job_size(target: Target, timeout: float) -> int | None:
    """The server's max-job-size for a dry run (stats only); None, said on stderr, if unknown."""
    [(_target, stats, why)] = await _each_server([target], lambda c: c.stats(), timeout)
    size = stats.get("max-job-size") if stats is not None else None
    if not isinstance(size, int):
        sys.stderr.write(
            f"{PROG}: note: body sizes not checked against the server's max-job-size "
            f"({why or 'the server does not say it'})\n"
        )
        return None
    return size


def _resume_key(path: str, address: str) -> tuple[str | None, int | None]:
    """The progress-record key of importing a file into a server, and its record count.

    stdin cannot be read twice: an import from it has no key, so no resume.
    """
    from stalkview.transfer import file_digest, import_key

    if path == "-":
        return None, None
    try:
        digest = file_digest(path)
        with open(path, "rb") as stream:
            records = sum(1 for line in stream if line.strip())
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    return import_key(digest, _parsed(address)), records


async def cmd_import(args: argparse.Namespace) -> int:
    from stalkview.transfer import import_jobs

    target = _one_target(args, args.address)
    if args.tube is not None:
        try:
            check_tube(args.tube)
        except ValueError as exc:
            raise CliError(f"--tube: {exc}") from None
    if not args.dry_run:
        _refuse_read_only(args, target.label, target.address, target.read_only)
    max_job_size = await _max_job_size(target, args.timeout) if args.dry_run else None
    key, expected = _resume_key(args.file, target.address)
    progress = _CountProgress(sys.stderr, "checked" if args.dry_run else "imported")
    try:
        report = await import_jobs(
            target.address,
            _read_lines(args.file),
            tube=args.tube,
            dry_run=args.dry_run,
            on_progress=progress,
            max_job_size=max_job_size,
            resume_key=None if key is None else f"{key} tube={args.tube or ''}",
            restart=args.restart,
            expected=expected,
        )
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{args.file} is not UTF-8 text ({exc.reason}): give a JSON Lines file"
        ) from None
    finally:
        progress.clear()
    _print_lines(report.lines())
    return 0 if report.ok else 1


PARKED_FIX = "'stalkview parked ADDRESS --bury' finishes them, '--release' makes them ready"


def _parked_in(jobs: Sequence[JobInfo]) -> list[JobInfo]:
    from stalkview.ops import is_parked

    return [j for j in jobs if is_parked(j.state, j.delay)]


async def cmd_parked(args: argparse.Namespace) -> int:
    from stalkview.ops import bury_parked, parked_note, plain_reason

    _check_tube_option(args.tube)
    target = _one_target(args, args.address)
    if args.bury or args.release:
        _refuse_read_only(args, target.label, target.address, target.read_only)
    client = await _connect(target.address, args.timeout)
    try:
        inventory = Inventory(client)
        await inventory.scan()
        parked = _parked_in(inventory.select(args.tube, "delayed"))
        if not parked:
            sys.stderr.write(f"no parked job on {target.label}\n")
            return 0
        if not (args.bury or args.release):
            rows = [[j.id, j.tube, j.pri, fmt.duration(j.ttr)] for j in parked]
            _print_lines(fmt.table(["id", "tube", "pri", "ttr"], rows, align="><>>"))
            sys.stderr.write(parked_note(len(parked), (j.tube for j in parked), PARKED_FIX) + "\n")
            return 0
        if args.bury:
            outcomes = await bury_parked(client, [(j.id, j.pri) for j in parked])
        else:
            outcomes = await client.run_many([commands.kick_job(j.id) for j in parked])
    finally:
        await client.close()
    failed = [(j, o) for j, o in zip(parked, outcomes, strict=True) if isinstance(o, BaseException)]
    verb = "buried" if args.bury else "released"
    for job, exc in failed:
        sys.stderr.write(f"job {job.id}: {plain_reason(exc, verb[:-2])}\n")
    print(f"{verb} {len(parked) - len(failed):,} of {_n_jobs(len(parked))} parked")
    return 1 if failed else 0


# --- the UI and the demo --------------------------------------------------------------


def _missing(what: str, exc: ImportError) -> int:
    sys.stderr.write(f"{PROG}: error: {what} is not available in this installation ({exc})\n")
    return 1


def open_app(args: argparse.Namespace) -> int:
    """Open the UI on the servers named on the command line (addresses, names, groups)."""
    config = _config(args)
    try:
        targets = config.resolve(args.addresses)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    interval = args.interval if args.interval is not None else config.interval
    budget = args.scan_budget if args.scan_budget is not None else config.scan_budget
    if len(targets) > 1 and args.binlog:
        raise UsageError(
            "--binlog names one server's log: open one server with it (or set binlog per "
            "server in the config)"
        )
    if len(targets) > 1:
        return int(
            run_fleet_app(targets, interval=interval, read_only=args.read_only, scan_budget=budget)
        )
    first = targets[0]
    read_only = args.read_only or first.read_only
    from stalkview.binlogfind import find_binlog

    return int(
        run_app(
            first.address,
            interval=interval,
            read_only=read_only,
            title=first.name,
            scan_budget=budget,
            binlog=args.binlog or first.binlog or find_binlog(first.address),
        )
    )


def open_log_app(args: argparse.Namespace) -> int:
    """The UI on a stopped server's log: a private beanstalkd restored from a copy,
    read-only, under a banner that says so."""
    from stalkview.binlog import BinlogError
    from stalkview.logserver import restored_server
    from stalkview.recovery import describe

    config = _config(args)
    interval = args.interval if args.interval is not None else config.interval
    try:
        with restored_server(args.binlog) as (address, log, copy):
            banner = (
                f"LOG, not a live server: {describe(log)}. Shown as beanstalkd restores it "
                "(reserved jobs ready), from a private copy; read-only."
            )
            return int(
                run_app(
                    address,
                    interval=interval,
                    read_only=True,
                    title=f"binlog {args.binlog}",
                    binlog=copy,
                    log_banner=banner,
                    shown_address=f"log {args.binlog}",
                )
            )
    except BinlogError as exc:
        raise CliError(str(exc)) from None


def open_demo(interval: float | None, read_only: bool) -> int:
    interval = 1.0 if interval is None else interval
    try:
        from stalkview.demo import run_demo
    except ImportError as exc:
        return _missing("the demo", exc)
    return int(run_demo(read_only=read_only, interval=interval))


# --- entry point ----------------------------------------------------------------------

COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "stats": cmd_stats,
    "tubes": cmd_tubes,
    "jobs": cmd_jobs,
    "peek": cmd_peek,
    "binlog": cmd_binlog,
    "journal": cmd_journal,
    "export": cmd_export,
    "import": cmd_import,
    "parked": cmd_parked,
}
#: Every subcommand: a first positional argument with one of these names is never
#: taken as a server address.
SUBCOMMANDS = frozenset({*COMMANDS, "demo"})


def _dispatch(argv: list[str]) -> int:
    first = _first_positional(argv)
    if first is not None and first not in SUBCOMMANDS:
        return open_app(build_app_parser().parse_args(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if args.demo:
            return open_demo(args.interval, args.read_only)
        if args.binlog:
            return open_log_app(args)
        parser.print_help(sys.stderr)
        sys.stderr.write(f"\n{PROG}: error: give a server ADDRESS or a command\n")
        return 2
    if args.command == "demo":
        return open_demo(args.interval, args.read_only)
    return asyncio.run(COMMANDS[args.command](args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (never raises for user errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _stdout_gone()
        return 1
    except CommandTimeoutError as exc:
        _fail(f"{exc}: the server accepts the connection but does not answer (--timeout S)")
        return 1
    except UsageError as exc:
        _fail(str(exc))
        return 2
    except (CliError, AddressError, Error) as exc:
        _fail(str(exc))
        return 1
    except OSError as exc:
        # Output that cannot be written (a full disk, /dev/full), a path that
        # is a directory: one line, not a traceback.
        _fail(_os_reason(exc))
        return 1
    finally:
        _flush_stdout()


def _os_reason(exc: OSError) -> str:
    if exc.filename is None:
        return f"cannot write output: {exc.strerror or exc}"
    return f"cannot use {exc.filename}: {exc.strerror or exc}"


def _flush_stdout() -> None:
    """Flush now, so a failed write (full disk, closed pipe) is reported, not lost at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()
    except OSError as exc:
        _stdout_gone()
        _fail(f"cannot write output: {exc.strerror or exc}")


def _stdout_gone() -> None:
    # `stalkview jobs ... | head -1`: the reader left. Stop quietly, and point
    # stdout at /dev/null so the interpreter's own flush at exit stays quiet too.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _fail(message: str) -> None:
    # Messages quote server strings and file contents: escaped, one line.
    sys.stderr.write(f"{PROG}: error: {fmt.printable(message)}\n")
