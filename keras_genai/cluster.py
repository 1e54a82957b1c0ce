"""A cluster of training processes on this machine, for tf.distribute.MultiWorkerMirroredStrategy.

Each worker is a separate Python process running the same script. TensorFlow reads the cluster
from the TF_CONFIG environment variable: every worker's address and this process's index in
that list. Here the addresses are loopback ports, so nothing leaves the machine; on real machines
the same script runs unchanged with their host names in TF_CONFIG (worker 0 is the chief, which
writes checkpoints and logs).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_ports(n):
    """n loopback TCP ports that are free now (the OS picks them)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(addresses, index):
    """The TF_CONFIG value of worker `index` in a cluster of `addresses` ("host:port")."""
    if not 0 <= index < len(addresses):
        raise ValueError(f"index must be in [0, {len(addresses)}), got {index}")
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


def run_local_workers(script, num_workers=2, args=(), timeout=300, env=None):
    """Run the Python file `script` as `num_workers` workers on loopback ports; returns their stdouts.

    The workers start together (MultiWorkerMirroredStrategy waits for all of them) and each gets
    its own TF_CONFIG; `args` go on every worker's command line. A worker that fails raises a
    RuntimeError with the end of its error output, after the others are stopped.
    """
    if num_workers < 1:
        raise ValueError(f"num_workers must be at least 1, got {num_workers}")
    if not os.path.isfile(script):
        raise FileNotFoundError(f"no worker script at {script}")
    addresses = [f"localhost:{port}" for port in free_ports(num_workers)]
    base = {**os.environ, **(env or {}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as folder:
        logs = [(open(os.path.join(folder, f"{i}.out"), "w+"), open(os.path.join(folder, f"{i}.err"), "w+"))
                for i in range(num_workers)]
        workers = [subprocess.Popen([sys.executable, script, *map(str, args)], stdout=out, stderr=err, text=True,
                                    env={**base, "TF_CONFIG": tf_config(addresses, i)})
                   for i, (out, err) in enumerate(logs)]
        try:
            _wait_for_all(workers, timeout)
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
        texts = []
        for handles in logs:
            for handle in handles:
                handle.seek(0)
            texts.append(tuple(handle.read() for handle in handles))
            for handle in handles:
                handle.close()
    failed = [i for i, worker in enumerate(workers) if worker.returncode != 0]
    if failed:  # the worker that exited with an error, rather than one stopped because of it
        i = max(failed, key=lambda i: workers[i].returncode > 0)
        raise RuntimeError(f"worker {i} of {num_workers} failed (exit code {workers[i].returncode}):\n"
                           f"{texts[i][1][-3000:]}")
    return [stdout for stdout, _ in texts]


def _wait_for_all(workers, timeout):
    """Wait until every worker has exited; stop early when one fails (the others would wait for it)."""
    deadline = time.monotonic() + timeout
    while True:
        codes = [worker.poll() for worker in workers]
        if all(code is not None for code in codes) or any(code not in (None, 0) for code in codes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the workers did not finish within {timeout} s")
        time.sleep(0.1)
