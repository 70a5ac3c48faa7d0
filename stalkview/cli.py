"""The stalkview command line: ``stalkview ADDRESS`` opens the UI, subcommands script the server.

Subcommands never import textual; the UI and the demo are imported only when asked for.
Every failure the user can cause ends in one line on stderr and a status: 1 for
a server or address problem, 2 for a usage error, 130 for Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import IO, Any, NoReturn

from stalkview import __version__
from stalkview import format as fmt
from stalkview.client import (
    AddressError,
    Client,
    Error,
    NotFoundError,
    commands,
    parse_address,
)
from stalkview.inventory import STATES, Inventory, JobInfo, ScanProgress

PROG = "stalkview"
#: Names a first positional argument is never taken as an address for.
#: export and import are reserved for a later version.
SUBCOMMANDS = ("stats", "tubes", "jobs", "peek", "demo", "journal", "export", "import")
RESERVED = ("export", "import")
PREVIEW = 60


class CliError(Exception):
    """A problem to report in one line, with exit status 1."""


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


def _job_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"job id {text!r} is invalid: use a positive integer")
    return int(text)


def _app_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval", type=_positive, default=1.0, metavar="S",
        help="seconds between refreshes (default: 1)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="disable every action that changes the server"
    )


def _address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address", metavar="ADDRESS",
        help="host[:port], [v6]:port, or a Unix socket path (port defaults to 11300)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The subcommand parser (``stalkview stats|tubes|jobs|peek|demo ...``)."""
    parser = _Parser(
        prog=PROG,
        description="See and operate beanstalkd work queues from the terminal.",
        usage=f"{PROG} ADDRESS [--interval S] [--read-only]\n"
        f"       {PROG} --demo | demo\n"
        f"       {PROG} {{stats,tubes,jobs,peek}} ADDRESS ...",
        epilog="examples:\n"
        f"  {PROG} localhost:11300          open the UI\n"
        f"  {PROG} jobs localhost --state buried --tube emails\n"
        f"  {PROG} jobs /run/beanstalkd.sock --json --bodies > jobs.jsonl\n\n"
        f"Run '{PROG} COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--demo", action="store_true", help="open the UI on a built-in demo server")
    _app_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, prog=f"{PROG} {name}", help=help, description=help,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("stats", "print the server's stats", f"{PROG} stats localhost:11300")
    _address(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add("tubes", "print one row a tube with its job counts", f"{PROG} tubes localhost")
    _address(p)
    p.add_argument("--json", action="store_true", help="print JSON Lines, one object a tube")

    p = add(
        "jobs", "list every job, in the order the server will hand them out",
        f"{PROG} jobs localhost:11300 --tube emails --state buried --json --bodies",
    )
    _address(p)
    p.add_argument("--tube", help="only jobs in this tube")
    p.add_argument("--state", choices=STATES, help="only jobs in this state")
    p.add_argument("--bodies", action="store_true", help="include bodies (a preview in tables)")
    p.add_argument(
        "--json", action="store_true",
        help="print JSON Lines: stats-job fields under the server's names (+ body)",
    )

    p = add("peek", "print one job's stats and body", f"{PROG} peek localhost:11300 42")
    _address(p)
    p.add_argument("id", metavar="ID", type=_job_id, help="the job id")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add("demo", "open the UI on a built-in demo server", f"{PROG} demo --read-only")
    _app_options(p)

    p = add(
        "journal", "list or restore the jobs stalkview deleted or moved",
        f"{PROG} journal list\n  {PROG} journal restore 3 5-9 id:1234 --dry-run\n"
        f"  {PROG} journal restore all --to localhost:11300 --tube recovered",
    )
    jsub = p.add_subparsers(dest="journal_command", metavar="ACTION", parser_class=_Parser)
    jsub.required = True
    jl = jsub.add_parser(
        "list", prog=f"{PROG} journal list", help="list journaled jobs, oldest first",
        description="List the jobs stalkview deleted or moved (the journal), oldest first.",
    )
    jl.add_argument("--json", action="store_true", help="print JSON Lines, one entry a line")
    jr = jsub.add_parser(
        "restore", prog=f"{PROG} journal restore", help="put journaled jobs back",
        description="Put journaled jobs back with their priority, ttr and remaining delay.",
        epilog="selectors: all, N (an entry number from 'journal list'), N-M, id:JOB\n"
        "example:\n  " + f"{PROG} journal restore 5-9 --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    jr.add_argument("selectors", nargs="+", metavar="SELECTOR", help="which entries to restore")
    jr.add_argument(
        "--to", metavar="ADDRESS",
        help="restore onto this server (default: each job's own server)",
    )
    jr.add_argument("--tube", help="put every job into this tube instead of its own")
    jr.add_argument("--dry-run", action="store_true", help="say what would be put, put nothing")
    jr.add_argument("--again", action="store_true", help="also restore entries restored before")
    for q in (jl, jr):
        q.add_argument(
            "--journal", metavar="PATH",
            help="the journal file (default: $STALKVIEW_JOURNAL or the user data directory)",
        )

    for name in RESERVED:
        p = add(name, "(not available yet)", f"{PROG} {name} --help")
        p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    """The parser for ``stalkview ADDRESS [--interval S] [--read-only]``."""
    parser = _Parser(
        prog=PROG,
        description="Open the stalkview UI on a beanstalkd server.",
        epilog=f"example:\n  {PROG} localhost:11300 --interval 2 --read-only",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _address(parser)
    _app_options(parser)
    return parser


def _first_positional(argv: Sequence[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--":
            return None
        if arg == "--interval":
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
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.drawn = False

    def __call__(self, p: ScanProgress) -> None:
        if not self.enabled:
            return
        bar = fmt.progress_bar(p.found, p.expected)
        self.stream.write(
            f"\r{bar}  {fmt.count(p.found)} of {fmt.count(p.expected)} jobs, "
            f"{fmt.count(p.scanned)} ids scanned\x1b[K"
        )
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# --- subcommands ----------------------------------------------------------------------


async def _connect(address: str) -> Client:
    client = Client(parse_address(address), encoding=None, connect_timeout=5.0)
    await client.open()
    return client


async def cmd_stats(args: argparse.Namespace) -> int:
    client = await _connect(args.address)
    try:
        stats = await client.stats()
    finally:
        await client.close()
    if args.json:
        print(_json_line(stats))
    else:
        _print_lines(fmt.table(["stat", "value"], stats.items(), align="<<"))
    return 0


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
    client = await _connect(args.address)
    try:
        tubes = await tube_stats(client)
    finally:
        await client.close()
    if args.json:
        _print_lines([_json_line(t) for t in tubes])
        return 0
    rows = []
    for t in tubes:
        row: list[object] = [t.get(key, "") for _title, key in TUBE_COLUMNS]
        paused = int(t.get("pause-time-left", 0) or 0)
        row[-1] = fmt.duration(paused) if paused else "-"
        rows.append(row)
    _print_lines(fmt.table([title for title, _key in TUBE_COLUMNS], rows))
    return 0


JOB_COLUMNS = ("id", "tube", "state", "pri", "age", "time-left", "ttr", "reserves", "timeouts",
               "releases", "buries", "kicks")


def _job_row(job: JobInfo, now: float) -> list[object]:
    left = job.time_left_now(now)
    return [
        job.id, job.tube, job.state, job.pri, fmt.duration(job.age_now(now)),
        fmt.duration(left) if job.state in ("delayed", "reserved") else "-",
        fmt.duration(job.ttr), job.reserves, job.timeouts, job.releases, job.buries, job.kicks,
    ]


async def cmd_jobs(args: argparse.Namespace) -> int:
    import time

    client = await _connect(args.address)
    progress = _Progress(sys.stderr)
    try:
        inventory = Inventory(client)
        try:
            await inventory.scan(progress)
        finally:
            progress.clear()
        jobs = inventory.select(args.tube, args.state)
        bodies: dict[int, bytes] = {}
        if args.bodies and jobs:
            limit = None if args.json else PREVIEW * 4
            bodies = await inventory.peek_bodies([j.id for j in jobs], limit=limit)
    finally:
        await client.close()
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
        return 0
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
    sys.stderr.write(f"{fmt.count(len(jobs))} jobs{' (' + scope + ')' if scope else ''}\n")
    return 0


async def cmd_peek(args: argparse.Namespace) -> int:
    client = await _connect(args.address)
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
    body: bytes = job.body
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


async def cmd_journal(args: argparse.Namespace) -> int:
    from stalkview.journal import SelectorError, journal_list, journal_restore

    if args.journal_command == "list":
        sys.stdout.write(journal_list(args.journal, json=args.json))
        return 0
    try:
        report = await journal_restore(
            args.to, args.journal, args.selectors,
            tube=args.tube, dry_run=args.dry_run, again=args.again,
        )
    except (SelectorError, ValueError) as exc:
        raise CliError(str(exc)) from None
    _print_lines(report.lines())
    return 1 if report.failed else 0


def cmd_reserved(args: argparse.Namespace) -> int:
    sys.stderr.write(f"{PROG}: '{args.command}' is not available in this version\n")
    return 2


# --- the UI and the demo --------------------------------------------------------------


def _missing(what: str, exc: ImportError) -> int:
    sys.stderr.write(f"{PROG}: error: {what} is not available in this installation ({exc})\n")
    return 1


def open_app(address: str, interval: float, read_only: bool) -> int:
    try:
        parse_address(address)
    except AddressError as exc:
        raise CliError(str(exc)) from None
    try:
        from stalkview.app import run_app
    except ImportError as exc:
        return _missing("the terminal UI", exc)
    return int(run_app(address, interval=interval, read_only=read_only))


def open_demo(interval: float, read_only: bool) -> int:
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
    "journal": cmd_journal,
}


def _dispatch(argv: list[str]) -> int:
    first = _first_positional(argv)
    if first is not None and first not in SUBCOMMANDS:
        args = build_app_parser().parse_args(argv)
        return open_app(args.address, args.interval, args.read_only)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if args.demo:
            return open_demo(args.interval, args.read_only)
        parser.print_help(sys.stderr)
        sys.stderr.write(f"\n{PROG}: error: give a server ADDRESS or a command\n")
        return 2
    if args.command == "demo":
        return open_demo(args.interval, args.read_only)
    if args.command in RESERVED:
        return cmd_reserved(args)
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
    except (CliError, AddressError, Error) as exc:
        _fail(str(exc))
        return 1
    except BrokenPipeError:
        # `stalkview jobs ... | head`: the reader left; stop quietly.
        sys.stderr.close()
        return 1


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
