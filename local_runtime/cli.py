"""``python -m local_runtime up | demo``: the whole stack on this machine, no AWS account, no Docker."""

from __future__ import annotations

import errno
import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from local_runtime.emulator.deployer import ContextError
from local_runtime.faults.injection import FaultRates
from local_runtime.faults.soak import DEFAULT_SEED, run_soak
from local_runtime.runtime import LocalRuntime, RuntimeOptions
from local_runtime.streams.event_source_mappings import PollIntervals
from local_runtime.streams.kinesis_destination import DeliveryFaults
from operator_cli.usage import OperatorErrors, help_without_command, print_error

# One `error: ...` line and exit 2 for every usage mistake, as trip-replay answers them (operator_cli, shared).
app = typer.Typer(
    help="Run TripSagaStack locally: an embedded AWS emulator with the synthesized CDK stack deployed into it.",
    rich_markup_mode=None,
    cls=OperatorErrors,
    invoke_without_command=True,
    callback=help_without_command,
    add_completion=False,
)
# On a terminal rich lays lines out for its width; piped (a log file, CI) it keeps each line whole.
console = Console(soft_wrap=not sys.stdout.isatty())

Host = Annotated[str, typer.Option(metavar="HOST", help="Address the endpoint listens on.")]
Port = Annotated[
    int,
    typer.Option(
        metavar="PORT", min=0, max=65535, help="Port of the one endpoint for every service (0: any free port)."
    ),
]
Region = Annotated[str, typer.Option(metavar="REGION", help="Region the stack is deployed to.")]
StateDir = Annotated[
    Path, typer.Option(metavar="DIR", help="Where the cloud assembly, function code and function logs go.")
]
PollInterval = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS",
        help="Seconds between polls of an idle shard [default: as AWS, 0.25 DynamoDB Streams, 1 Kinesis].",
    ),
]
Duplicates = Annotated[
    float,
    typer.Option(
        metavar="SHARE",
        min=0.0,
        max=1.0,
        help="Share of TripTable changes the Kinesis streaming destination delivers twice.",
    ),
]
Reorder = Annotated[
    bool,
    typer.Option(help="Let the Kinesis streaming destination deliver changes out of order (held back up to 1.5 s)."),
]
Seed = Annotated[
    int | None, typer.Option(metavar="N", help="Seed for the duplicate and reorder choices and the injected faults.")
]
Throttle = Annotated[
    float,
    typer.Option(
        "--fault-throttle",
        metavar="SHARE",
        min=0.0,
        max=1.0,
        help="Share of the search table's write and BatchGetItem requests answered with "
        "ProvisionedThroughputExceededException.",
    ),
]
Crash = Annotated[
    float,
    typer.Option(
        "--fault-crash",
        metavar="SHARE",
        min=0.0,
        max=1.0,
        help="Share of consumer invocations whose sandbox process ends after their first write (Lambda retries).",
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--fault-timeout",
        metavar="SHARE",
        min=0.0,
        max=1.0,
        help="Share of consumer invocations whose first write hangs until the function times out.",
    ),
]
ScheduleMinute = Annotated[
    float,
    typer.Option(
        "--schedule-minute-seconds",
        metavar="SECONDS",
        min=0.1,
        help="How long a minute of a scheduled rule's rate lasts: rate(1 minute) fires every SECONDS.",
    ),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also log each invocation's timing.")]


def _context_values(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        key, equals, _ = value.partition("=")
        if not equals or not key:
            raise typer.BadParameter(f"{value!r} is not KEY=VALUE, e.g. searchTablesMaxAgeSeconds=2")
    return values


Context = Annotated[
    list[str] | None,
    typer.Option(
        "--context",
        "-c",
        metavar="KEY=VALUE",
        callback=_context_values,
        help="A CDK context value for the stack, as `cdk deploy -c KEY=VALUE` takes it (repeatable; "
        "docs/operations.md lists the switches).",
    ),
]


def _options(
    host: str,
    port: int,
    region: str,
    state_dir: Path,
    poll: float | None,
    duplicates: float,
    reorder: bool,
    seed: int | None,
    injected: FaultRates | None = None,
    context: list[str] | None = None,
    schedule_minute_s: float = 60.0,
) -> RuntimeOptions:
    return RuntimeOptions(
        project_dir=Path.cwd(),
        state_dir=state_dir.resolve(),
        host=host,
        port=port,
        region=region,
        poll=PollIntervals() if poll is None else PollIntervals(dynamodb_s=poll, kinesis_s=poll),
        faults=DeliveryFaults(duplicate_rate=duplicates, reorder=reorder),
        seed=seed,
        injected=injected or FaultRates(),
        context=dict(value.partition("=")[::2] for value in context or ()),
        schedule_minute_s=schedule_minute_s,
    )


def _require_free_port(host: str, port: int, command: str) -> None:
    """Stop before the minute of synthesis and deployment when the endpoint's address is taken (exit 2). The probe
    binds as the endpoint's server does (SO_REUSEADDR), so a port its last run just left is not taken."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                advice = "(another `make up`?): stop it, or pass --port"
            else:  # an address of no interface here, or a name that does not resolve
                advice = "(no address of this machine): pass --host an address of this machine, 127.0.0.1 by default"
            print_error(
                f"cannot listen on {host}:{port}: {error.strerror} {advice} "
                f"(see python -m local_runtime {command} --help)"
            )
            raise typer.Exit(code=2) from None


def _fault_rates(throttle: float, crash: float, timeout: float) -> FaultRates:
    try:
        return FaultRates(throttle=throttle, crash=crash, timeout=timeout)
    except ValueError as error:  # crash + timeout above 1: one draw decides between them
        typer.echo(f"error: --fault-crash and --fault-timeout: {error}", err=True)
        raise typer.Exit(code=2) from None


def _configure_logging(verbose: bool, log_console: Console = console) -> None:
    """One plain line per record, on a terminal too: rich's log columns broke generated names, ARNs and numbers
    mid-word at 80 columns; a line the terminal wraps still copies whole."""
    handler = logging.StreamHandler(log_console.file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("local_runtime").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def print_stack_outputs(runtime: LocalRuntime) -> None:
    console.print(f"[bold]Endpoint[/]  {runtime.endpoint.url}  (region {runtime.options.region}, any credentials)")
    for stack in runtime.stacks:
        console.print(f"[bold]Stack {stack.name}[/]")
        for key, value in sorted(stack.outputs.items()):
            console.print(f"  {key:<28} {value}", soft_wrap=True)
    for rule in runtime.status()["scheduledRules"]:
        every = f"every {rule['periodSeconds']:g} s" if rule["periodSeconds"] else "not run here (cron)"
        console.print(
            f"[bold]Scheduled[/]  {rule['schedule']} -> {', '.join(rule['targets'])} ({every})", soft_wrap=True
        )


@app.command()
def up(
    host: Host = "127.0.0.1",
    port: Port = 4566,
    region: Region = "us-east-1",
    state_dir: StateDir = Path(".local"),
    poll_interval: PollInterval = None,
    kinesis_duplicates: Duplicates = 0.0,
    kinesis_reorder: Reorder = False,
    seed: Seed = None,
    fault_throttle: Throttle = 0.0,
    fault_crash: Crash = 0.0,
    fault_timeout: Timeout = 0.0,
    context: Context = None,
    schedule_minute_seconds: ScheduleMinute = 60.0,
    verbose: Verbose = False,
) -> None:
    """Synthesize, deploy locally and run in the foreground until Ctrl-C.

    Use the endpoint with the AWS CLI (--endpoint-url) or boto3 (AWS_ENDPOINT_URL), any credentials.
    """
    injected = _fault_rates(fault_throttle, fault_crash, fault_timeout)
    _require_free_port(host, port, "up")
    _configure_logging(verbose)
    options = _options(
        host,
        port,
        region,
        state_dir,
        poll_interval,
        kinesis_duplicates,
        kinesis_reorder,
        seed,
        injected,
        context,
        schedule_minute_seconds,
    )
    runtime = LocalRuntime(options)
    stopping = threading.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, and `kill` from a supervisor or a test
        signal.signal(stop_signal, lambda *_: stopping.set())
    try:
        try:
            runtime.start()
        except ContextError as error:
            print_error(f"Invalid value for '--context' / '-c': {error}")
            raise typer.Exit(2) from None
        print_stack_outputs(runtime)
        console.print(
            "Nothing is kept between runs: every start deploys the stack afresh, empty, and the generated "
            "resource names above change each time (read them from the stack outputs)."
        )
        console.print(
            f"Try: [bold]aws --endpoint-url {runtime.endpoint.url} --region {region} "
            "cloudformation describe-stacks[/]   (Ctrl-C stops)"
        )
        console.print(
            "AWS CLI v1 (.venv/bin/aws) ignores AWS_ENDPOINT_URL for [bold]aws sqs[/]: always pass --endpoint-url "
            "there, or the command goes to AWS."
        )
        stopping.wait()
    finally:
        console.print("stopping the local runtime")
        _bound_the_stop()
        runtime.stop()


# Ctrl-C ends the runtime within this long (seconds), whatever a thread is stuck in: each part's threads are given
# local_runtime.stopping.STOP_TIMEOUT_S, and the process past this writes every thread's stack, then exits.
STOP_DEADLINE_S = 180.0
STOP_TIMED_OUT_EXIT = 3


def _bound_the_stop() -> None:
    def timed_out() -> None:
        sys.stderr.write(f"the local runtime did not stop within {STOP_DEADLINE_S:.0f} s; its threads:\n")
        faulthandler.dump_traceback(all_threads=True)
        os._exit(STOP_TIMED_OUT_EXIT)

    watchdog = threading.Timer(STOP_DEADLINE_S, timed_out)
    watchdog.daemon = True  # it outlives the stop and the interpreter's exit, and ends with the process
    watchdog.start()


@app.command()
def demo(
    port: Port = 0,
    region: Region = "us-east-1",
    state_dir: StateDir = Path(".local/demo"),
    verbose: Verbose = False,
) -> None:
    """Run the hands-on's section 7 scenarios end to end on a fresh local runtime, check each result, then stop.

    Exits non-zero if any check fails.
    """
    from local_runtime.demo import run_demo

    _require_free_port("127.0.0.1", port, "demo")
    _configure_logging(verbose)
    if not verbose:  # the checks tell the story; the runtime's own log only when asked
        logging.getLogger("local_runtime").setLevel(logging.WARNING)
    options = _options("127.0.0.1", port, region, state_dir, None, 0.0, False, None)
    raise typer.Exit(code=run_demo(options, console))


@app.command()
def soak(
    sagas: Annotated[int, typer.Option(metavar="N", min=1, max=2000, help="Sagas of the first wave.")] = 60,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of every fault and of the Kinesis copy's choices.")
    ] = DEFAULT_SEED,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of the report.")] = False,
    state_dir: StateDir = Path(".local/soak"),
    verbose: Verbose = False,
) -> None:
    """Run a workload on a fresh local runtime with every fault on, then check that nothing was lost.

    Exits 1 if the live search table differs from a rebuild from TripTable, or any other check fails.
    """
    # stdout is the report (or the JSON document)
    _configure_logging(verbose, Console(stderr=True, soft_wrap=not sys.stderr.isatty()))
    if not verbose:
        logging.getLogger("local_runtime").setLevel(logging.WARNING)
    raise typer.Exit(code=run_soak(sagas, seed, state_dir, console, json_output))


def main() -> None:
    # `kill -USR1 <pid>` writes every thread's stack to stderr: what a runtime that does not stop is waiting on
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    app()
