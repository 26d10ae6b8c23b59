"""The node's life: bootstrap, serve, run the program, linger, exit.

Exit codes: 0 the program returned; 1 it raised; 2 Stop's grace ran out while it still ran;
3 the executor JVM went away; 4 the node could not start (bad bootstrap, bind failure, ...).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from sparktf.node.bootstrap import BootstrapError, NodeBootstrap, load_bootstrap
from sparktf.node.output_ring import OutputRing, tee_process_output
from sparktf.v1 import node_pb2
from sparktf.wire.parent_watch import watch_parent
from sparktf.wire.ready_file import write_ready_file

if TYPE_CHECKING:
    from sparktf.node.context import NodeContext
    from sparktf.node.data_feed import DataFeed
    from sparktf.node.feed_queue import FeedQueue
    from sparktf.node.program_state import ProgramState

EXIT_FINISHED = 0
EXIT_FAILED = 1
EXIT_STOPPED = 2
EXIT_PARENT_GONE = 3
EXIT_STARTUP_FAILED = 4
SERVER_STOP_GRACE_SECONDS = 2.0

log = logging.getLogger("sparktf.node")

MainFun = Callable[[Any, Any], Any]


def main(argv: list[str]) -> NoReturn:
    """``python -m sparktf.node BOOTSTRAP_JSON_PATH``: run the node, then exit the process."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m sparktf.node BOOTSTRAP_JSON_PATH\n")
        hard_exit(EXIT_STARTUP_FAILED)
    code = run(argv[0])
    log.info("exiting with code %d", code)
    hard_exit(code)


def hard_exit(code: int) -> NoReturn:
    """Flush and leave without atexit handlers or thread joins, where TensorFlow can hang."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def run(bootstrap_path: str) -> int:
    """Run the node described by the bootstrap file; returns the process exit code."""
    _line_buffered_output()
    try:
        boot = load_bootstrap(bootstrap_path)
    except BootstrapError as e:
        sys.stderr.write(f"sparktf node: {e}\n")
        return EXIT_STARTUP_FAILED
    _configure_logging(f"{boot.job_name}:{boot.task_index}")
    # After sparktf's own log handler took the real stderr: the driver's console gets the
    # program's lines, not the node's bookkeeping (which stays in the executor log).
    output = OutputRing()
    tee_process_output(output)
    # What the executor would remove when the node ends, if it is gone: shared memory outlives
    # a process (batch files left there would hold RAM until reboot), and the working directory
    # holds the bootstrap with the cluster secret.
    watch_parent(leftovers=(boot.working_dir,) + ((boot.shared_dir,) if boot.shared_dir else ()))
    apply_environment(boot)
    try:
        os.chdir(boot.working_dir)
    except OSError as e:
        log.error("cannot enter working_dir %s: %s", boot.working_dir, e)
        return EXIT_STARTUP_FAILED
    try:
        return _serve_and_run(boot, output)
    finally:
        if boot.shared_dir:  # the executor removes it too, unless it died first
            shutil.rmtree(boot.shared_dir, ignore_errors=True)


def apply_environment(boot: NodeBootstrap) -> None:
    """Set the bootstrap's env vars and TF_CONFIG; must happen before TensorFlow is imported."""
    os.environ.update(boot.env)
    if boot.tf_config:
        os.environ["TF_CONFIG"] = boot.tf_config
    else:
        # An inherited TF_CONFIG would make a single node look for a cluster.
        os.environ.pop("TF_CONFIG", None)


def load_program(spec: node_pb2.ProgramSpec) -> tuple[MainFun, Any]:
    """``(main_fun, args)`` from a cloudpickle file or a function of a script."""
    if spec.WhichOneof("kind") == "pickled":
        import cloudpickle

        # Written by this node's own executor task from bytes Spark shipped: never a socket.
        with open(spec.pickled.path, "rb") as fh:
            loaded = cloudpickle.load(fh)
        if not (isinstance(loaded, tuple) and len(loaded) == 2 and callable(loaded[0])):
            raise TypeError(
                f"{spec.pickled.path} must hold a pickled (main_fun, args) pair, "
                f"found {type(loaded).__name__}"
            )
        return loaded[0], loaded[1]
    script = spec.script
    path = os.path.abspath(script.path)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # so the script imports its neighbours
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else "__sparktf_program__"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module: is it a .py file?")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # pickling by reference of its functions needs it there
    module_spec.loader.exec_module(module)
    main_fun = getattr(module, script.function, None)
    if not callable(main_fun):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise AttributeError(
            f"{path} has no function '{script.function}'; its functions are: "
            f"{', '.join(found) or 'none'}"
        )
    return main_fun, dict(script.args)


def _serve_and_run(boot: NodeBootstrap, output: OutputRing) -> int:
    # Imported here, after TF_CONFIG and env are set: these pull in grpc and numpy only.
    from sparktf.node.context import NodeContext  # noqa: F811 - the runtime import
    from sparktf.node.control_server import NodeControlServicer
    from sparktf.node.data_feed import DataFeed  # noqa: F811 - the runtime import
    from sparktf.node.feed_queue import FeedQueue  # noqa: F811
    from sparktf.node.feed_server import DataFeedServicer
    from sparktf.node.inference_server import NodeInferenceServicer
    from sparktf.node.node_server import start_node_server
    from sparktf.node.program_state import ProgramState  # noqa: F811
    from sparktf.node.tensorboard import (
        TensorBoardError,
        default_log_dir,
        node_log_dir,
        start_tensorboard,
    )
    from sparktf.wire.shared_batches import SharedBatchDir

    log_dir = default_log_dir(boot.log_dir, boot.model_dir, boot.working_dir)
    tensorboard_url = None
    if boot.tensorboard:
        started = time.monotonic()
        try:
            tensorboard_url = start_tensorboard(log_dir, boot.host)
        except (TensorBoardError, OSError) as e:
            log.error("node could not start: %s", e)
            return EXIT_STARTUP_FAILED
        log.info(
            "TensorBoard serves %s at %s (started in %.1f s)",
            log_dir,
            tensorboard_url,
            time.monotonic() - started,
        )
    program = ProgramState(boot.job_name, boot.task_index)
    queue = FeedQueue(boot.queue_capacity) if boot.takes_data else None
    shared = SharedBatchDir(boot.shared_dir) if boot.shared_dir else None
    feed_servicer = (
        None
        if queue is None
        else DataFeedServicer(boot.cluster_id, queue, program, boot.feed_timeout_seconds, shared)
    )
    inference = (
        None
        if queue is None
        else NodeInferenceServicer(
            boot.cluster_id, queue, program, boot.feed_timeout_seconds, shared
        )
    )
    control = NodeControlServicer(
        program, queue, feed_servicer.ledger if feed_servicer else None, output
    )
    try:
        server, port = start_node_server(boot.host, boot.secret, control, feed_servicer, inference)
        write_ready_file(boot.ready_file, port, tensorboard_url)
    except OSError as e:
        log.error("node could not start: %s", e)
        return EXIT_STARTUP_FAILED
    log.info("serving on %s:%d (pid %d, cluster %s)", boot.host, port, os.getpid(), boot.cluster_id)

    def stop_server() -> None:
        server.stop(SERVER_STOP_GRACE_SECONDS).wait(SERVER_STOP_GRACE_SECONDS + 1.0)

    _start_stop_watch(program, stop_server)
    data_feed = None if queue is None else DataFeed(queue, boot.feed_timeout_seconds)
    ctx = NodeContext(
        job_name=boot.job_name,
        task_index=boot.task_index,
        worker_num=boot.worker_num,
        num_workers=boot.num_workers,
        cluster_spec=boot.cluster_spec,
        cluster_id=boot.cluster_id,
        executor_id=boot.executor_id or None,
        model_dir=boot.model_dir,
        export_dir=boot.export_dir,
        checkpoint_dir=boot.checkpoint_dir,
        working_dir=boot.working_dir,
        log_dir=node_log_dir(log_dir, boot.job_name, boot.task_index),
        stop_requested=program.stop_requested,
        data_feed=data_feed,
    )

    if boot.keras3_mwms_fix:
        from sparktf.node.keras_mwms_fix import install_keras3_mwms_fix

        install_keras3_mwms_fix()  # before the program (or its unpickling) imports Keras
        if queue is not None and data_feed is not None and ctx.checkpoint_dir:
            _record_finished_epochs(ctx, queue, data_feed)
    from sparktf.node.background_gc import BackgroundCollector

    BackgroundCollector().start()  # full collections off the program's thread (why: its doc)
    result = boot.message.result if boot.message.HasField("result") else None
    code = _run_program(boot.program, ctx, program, result)
    if queue is not None:
        queue.close()  # feed tasks still streaming get FeedAck.terminated
    if boot.linger and not program.stop_requested.is_set():
        log.info("program done; lingering up to %.0f s for Stop", boot.linger_timeout_seconds)
        if not program.stop_requested.wait(boot.linger_timeout_seconds):
            log.warning(
                "no Stop came within linger_timeout_seconds (%.0f s); exiting",
                boot.linger_timeout_seconds,
            )
    stop_server()
    return code


def _record_finished_epochs(ctx: NodeContext, queue: FeedQueue, data_feed: DataFeed) -> None:
    """Keras 3 fit records its finished epochs for a restarted feed (``epoch_record``)."""
    from sparktf.node import epoch_record

    def taken() -> tuple[str | None, int]:
        feed_id = data_feed.feed_id
        return feed_id, 0 if feed_id is None else queue.rows_taken(feed_id)

    path = epoch_record.record_path(
        ctx.checkpoint_dir, ctx.cluster_id, ctx.job_name, ctx.task_index
    )
    epoch_record.configure(path, taken)


def _run_program(
    spec: node_pb2.ProgramSpec,
    ctx: NodeContext,
    program: ProgramState,
    result: node_pb2.ProgramResult | None = None,
) -> int:
    try:
        main_fun, args = load_program(spec)
        returned = main_fun(args, ctx)
        if result is not None:
            write_result(returned, result)
    except SystemExit as e:
        if e.code in (None, 0):
            program.mark_finished()
            return EXIT_FINISHED
        program.mark_failed(traceback.format_exc())
    except BaseException:  # noqa: B036 - a KeyboardInterrupt is a failure the driver must see
        program.mark_failed(traceback.format_exc())
    else:
        program.mark_finished()
        log.info("program finished")
        return EXIT_FINISHED
    sys.stderr.write(f"sparktf node {program.role}: the program raised:\n{program.error}")
    log.error("program failed")
    return EXIT_FAILED


def write_result(value: Any, result: node_pb2.ProgramResult) -> None:
    """The chief's return value for ``TFCluster.runFunction``: cloudpickled into a private file
    its executor task reads; a pickle over ``max_bytes`` fails the program."""
    import cloudpickle

    data = cloudpickle.dumps(value)
    if len(data) > result.max_bytes:
        raise ValueError(
            f"the program's return value is {len(data)} bytes pickled, over max_result_bytes "
            f"({result.max_bytes}): return less (the path of a file holding it, say) or raise "
            "max_result_bytes"
        )
    fd = os.open(result.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _start_stop_watch(program: ProgramState, stop_server: Callable[[], None]) -> None:
    """On Stop while the program runs, give it the grace period, then end the process."""

    def watch() -> None:
        while not program.stop_requested.wait(1.0):
            if program.done.is_set():
                return  # the main thread handles Stop from here on
        if program.done.wait(program.stop_grace):
            return
        log.warning(
            "Stop: the program still runs after %.1f s of grace; exiting", program.stop_grace
        )
        stop_server()
        hard_exit(EXIT_STOPPED)

    threading.Thread(target=watch, name="sparktf-stop-watch", daemon=True).start()


def _configure_logging(role: str) -> None:
    # A handler of our own, so the user's logging setup is neither needed nor disturbed.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s sparktf-node {role} %(levelname)s %(message)s")
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _line_buffered_output() -> None:
    # The executor pumps these pipes into its log: lines must not sit in a buffer.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
