"""Multi-worker training: tf.distribute.MultiWorkerMirroredStrategy driven by the lifecycle.

Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585,
"PerReplica ... unsupported type"), so for `--strategy multi_worker` the
lifecycle runs `distributed_fit` instead: the model's own `train_step` (and
`test_step`) inside `strategy.run` over a distributed dataset, with the same
Keras callbacks `fit` would call, in the same order, with the same logs
(each loss a running mean over the epoch, reduced across workers). Every
guarantee of the run directory therefore holds unchanged: per-epoch and best
checkpoints, history, plots, TensorBoard, the NaN stop, learning-rate
schedules and --resume.

How a cluster is described and run:
- TF_CONFIG names the workers and this process's index (see README.md);
  `--batch_size` is the *global* batch, split evenly across the workers, as
  `mirrored` splits it across local devices.
- The chief (task "chief", or worker 0 when there is none) alone writes the
  run directory and takes its lock. The other workers write their copies of
  the same files to a temporary folder removed at the end (TensorFlow's
  multi-worker checkpointing rule) and print nothing but errors.
- A worker that never comes up ends the others after `--worker_timeout`
  seconds with an error naming the addresses that did not answer; a worker
  that dies mid-run ends the others through TensorFlow's health checks
  (about ten seconds here).
- Workers compare a hash of their model, data and training settings at the
  start and refuse to train when they differ.

Collective ops are configured once per process, before any other
TensorFlow operation runs, so `start` is called by the command parser right
after the flags are read (`common.cli.CommandParser`).
"""

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time

from common.cli import UsageError

_strategy = None  # the process's MultiWorkerMirroredStrategy, once started
_run_copy = None  # inside RunFolder.train on a non-chief worker: where the run's copy goes
DEFAULT_WORKER_TIMEOUT = 120  # seconds for every worker of TF_CONFIG to come up


def check_tf_config():
    """The parsed TF_CONFIG of a multi-worker run; UsageError when missing or malformed."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise UsageError("--strategy multi_worker needs the TF_CONFIG environment variable "
                         "(the cluster's workers and this worker's index); see README.md")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        workers = [*cluster.get("chief", []), *cluster["worker"]]
        index = task.get("index")
        members = cluster.get(task.get("type"))
        ok = (isinstance(cluster["worker"], list) and workers
              and all(isinstance(a, str) and ":" in a for a in workers)
              and task.get("type") in ("worker", "chief") and isinstance(index, int)
              and not isinstance(index, bool) and isinstance(members, list)
              and 0 <= index < len(members))
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise UsageError("TF_CONFIG is malformed: expected {\"cluster\": {\"worker\": "
                         "[\"host:port\", ...]}, \"task\": {\"type\": \"worker\", \"index\": i}} "
                         "with i naming one of the workers")
    return config


def is_chief(tf_config=None):
    """Whether this process is the cluster's chief (the only one writing the run)."""
    config = tf_config or check_tf_config()
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def _answers(address, seconds=1.0):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            return True
    except (OSError, ValueError):
        return False


def start(worker_timeout=DEFAULT_WORKER_TIMEOUT):
    """Creates this process's MultiWorkerMirroredStrategy (once); returns it.

    TensorFlow's coordination leader (the chief, or worker 0) waits for the
    other workers without a limit, ignoring SIGTERM, so it first waits for
    their ports itself, at most `worker_timeout` seconds; the other workers
    give up registering with the leader after the same time.
    """
    global _strategy
    if _strategy is not None:
        return _strategy
    config = check_tf_config()
    import tensorflow as tf

    cluster, task = config["cluster"], config["task"]
    leader = (cluster.get("chief") or cluster["worker"])[0]
    own = cluster[task["type"]][task["index"]]
    if own == leader:
        _wait_for([a for role in ("chief", "worker") for a in cluster.get(role, [])
                   if a != own], worker_timeout)
    else:
        _limit_registration(cluster, worker_timeout)
    # No timeout on collectives: with one, TensorFlow keeps a thread alive for
    # the whole timeout after every collective op (measured: 2 threads a step,
    # each for 600 s), so a run of fast steps reached the process's thread
    # limit within minutes and aborted (std::system_error). A worker that dies
    # is found by the coordination service's heartbeats instead.
    try:
        _strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:  # TensorFlow ran an operation before the strategy
        raise UsageError(f"--strategy multi_worker must be set up when the process starts "
                         f"({error}); run the command in a new process") from None
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError):
        raise _not_up([leader], worker_timeout) from None
    if not is_chief(config):
        sys.stdout = open(os.devnull, "w")  # only the chief reports; errors still show
    return _strategy


def _not_up(addresses, seconds):
    return UsageError(f"--strategy multi_worker: the cluster was not up after {seconds:g} s; "
                      f"no answer from {', '.join(addresses)}. Start every worker named in "
                      "TF_CONFIG, or raise --worker_timeout")


def _wait_for(addresses, seconds):
    """Waits until every address accepts connections; UsageError naming the silent ones."""
    deadline = time.monotonic() + seconds
    waiting = list(addresses)
    while waiting:
        waiting = [a for a in waiting if not _answers(a)]
        if waiting and time.monotonic() > deadline:
            raise _not_up(waiting, seconds)
        if waiting:
            time.sleep(0.5)


def _limit_registration(cluster, seconds):
    """Makes a worker's registration with the leader fail after `seconds` (not hang).

    Configures TensorFlow's coordination service as MultiWorkerMirroredStrategy
    would, plus the registration timeout; its internal modules may move, and
    then the worker simply waits as TensorFlow does.
    """
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context
        from tensorflow.python.training.server_lib import ClusterSpec
    except ImportError:
        return
    spec = ClusterSpec(cluster)
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in ("chief", "worker") if job in cluster]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(spec),
        cluster_register_timeout_in_ms=int(seconds * 1000), coordinated_jobs=jobs)


def settings_hash(settings):
    """A 20-bit hash of JSON `settings` (small enough to sum exactly in float64)."""
    text = json.dumps(settings, sort_keys=True, ensure_ascii=False)
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:5], 16)


def check_same_settings(strategy, settings):
    """UsageError on every worker unless all workers hash their settings alike.

    Each worker contributes (h, h^2); the sums are the same on every worker,
    and their variance is zero exactly when all hashes are equal.
    """
    import tensorflow as tf

    h = float(settings_hash(settings))

    @tf.function  # strategy.run outside a tf.function warns and runs slowly
    def sums():
        values = strategy.run(lambda: tf.constant([h, h * h], tf.float64))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)

    total = sums().numpy()
    n = strategy.num_replicas_in_sync
    mean = total[0] / n
    if total[1] / n - mean * mean > 0.5:
        raise UsageError("--strategy multi_worker: the workers were started with different "
                         "model, data or training settings; start every worker with the same "
                         "flags and the same data")


def distributed_fit(model, strategy, train_data, steps_per_epoch, epochs, initial_epoch,
                    callbacks, validation_data=None, verbose=1):
    """What model.fit does, for a strategy fit cannot run under; see the module docstring."""
    import keras
    import tensorflow as tf

    def reduced(logs):
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                for k, v in logs.items()}

    @tf.function
    def train_step(iterator):
        return reduced(strategy.run(model.train_step, args=(next(iterator),)))

    @tf.function
    def test_step(batch):
        return reduced(strategy.run(model.test_step, args=(batch,)))

    if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
        # Arrays (x, y), batched as fit batches them (32, Keras's default).
        validation_data = tf.data.Dataset.from_tensor_slices(validation_data).batch(32)
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=epochs,
        steps=steps_per_epoch)
    iterator = iter(strategy.experimental_distribute_dataset(train_data))
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        logs = {}
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = {k: float(v) for k, v in train_step(iterator).items()}
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = _whole_epoch(model, logs)
        if validation_data is not None and not model.stop_training:
            model.reset_metrics()
            val_logs = {}
            for batch in strategy.experimental_distribute_dataset(validation_data):
                val_logs = test_step(batch)
            val_logs = _whole_epoch(model, {k: float(v) for k, v in val_logs.items()})
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end()


def _whole_epoch(model, logs):
    """An epoch's logs as fit gives them: the model's metrics read across the workers.

    A step's logs are each worker's running results averaged over the
    workers, which is the whole batch's value for a mean (a loss, accuracy)
    but not for a ratio such as precision. Read outside `strategy.run`, a
    metric sums its counts over every worker first. Like Keras's fit, the step's
    logs are kept when a custom train_step logs other names than its metrics.
    Every worker calls this at the same point: the read is a collective.
    """
    results = model.get_metrics_result()
    return results if set(results) == set(logs) else logs


@contextlib.contextmanager
def worker_scratch():
    """A non-chief worker's run directory (a path), removed at the end.

    TFCOURSE_WORKER_DIR names a new folder to use (and keep) instead, to look
    at a worker's copy of the run: its checkpoints equal the chief's. Inside
    `RunFolder.train` the run's own folder in the worker's copy is used (and
    kept until `run_folder` ends).
    """
    if _run_copy is not None:
        yield _run_copy
        return
    keep = os.environ.get("TFCOURSE_WORKER_DIR")
    if keep:
        if os.path.lexists(keep):
            raise UsageError(f"TFCOURSE_WORKER_DIR {keep} exists; name a new folder")
        yield keep
        return
    scratch = tempfile.mkdtemp(prefix="tfcourse-worker-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def writes_run(strategy_name):
    """Whether this process writes the run directory and reports: every process but the
    workers of a multi-worker cluster other than the chief."""
    return strategy_name != "multi_worker" or is_chief()


class RunFolder:
    """Where this process trains a command's run (or its runs: stages, phases); see run_folder."""

    def __init__(self, path, private):
        self.path = path  # --out_dir, or a non-chief worker's private copy of it
        self.private = private

    def train(self, job):
        """common.lifecycle.train(job) for a job whose out_dir is inside self.path.

        On a non-chief worker the lifecycle then writes the run's files into
        job.out_dir (in the private copy) instead of a scratch folder of its
        own, so that a later stage can read this one's checkpoints there.
        """
        from common import lifecycle  # lifecycle imports this module

        global _run_copy
        if not self.private:
            return lifecycle.train(job)
        _run_copy = job.out_dir
        try:
            return lifecycle.train(job)
        finally:
            _run_copy = None


@contextlib.contextmanager
def run_folder(out_dir, strategy_name, resume=False):
    """The folder a `train` keeps its run in on this process: yields a RunFolder.

    --out_dir itself, except on a worker of a cluster that is not the chief.
    There it is a private folder, removed at the end (TFCOURSE_WORKER_DIR, if
    set, is used and kept), that starts as a copy of --out_dir on --resume (the
    chief's run, on a shared filesystem or copied to this machine) and empty
    otherwise. The command reads and writes everything there as the chief does
    in --out_dir: its runs (through RunFolder.train), and the files it writes
    beside them (embeddings, sample grids, a base model, a later stage's
    start), so nothing lands in --out_dir and every worker trains the stages
    the chief trains, from the same checkpoints.
    """
    if writes_run(strategy_name):
        yield RunFolder(out_dir, private=False)
        return
    if resume and not os.path.isdir(out_dir):
        raise UsageError(f"--resume: {out_dir} is not on this worker; every worker reads the "
                         "chief's run directory: put it on a shared filesystem, or copy it "
                         "to each worker first")
    keep = os.environ.get("TFCOURSE_WORKER_DIR")
    if keep and os.path.lexists(keep):
        raise UsageError(f"TFCOURSE_WORKER_DIR {keep} exists; name a new folder")
    path = keep or tempfile.mkdtemp(prefix="tfcourse-worker-")
    try:
        if resume:  # the chief's lock is the chief's: a copy holds none
            from common.runs import LOCK_NAME

            shutil.copytree(out_dir, path, symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(LOCK_NAME))
        else:
            os.makedirs(path, exist_ok=True)
        yield RunFolder(path, private=True)
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def worker_failure(error):
    """The one-line UsageError for a TensorFlow error that means a peer failed."""
    detail = " ".join(str(error).split())[:200]
    return UsageError(f"--strategy multi_worker: a worker failed or became unreachable "
                      f"({type(error).__name__}: {detail}); restart every worker with "
                      "--resume to continue from the last finished epoch")
