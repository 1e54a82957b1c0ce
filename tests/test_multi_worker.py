"""Two worker processes on loopback ports under MultiWorkerMirroredStrategy train like one process.

Each worker takes half of every global batch; the gradients are summed across workers by
collective all-reduce, so the updates must equal those of one process on the same global
batches (up to float32 round-off from the different order of the sums).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_genai import cluster

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multi_worker_training.py")
ROOT = os.path.dirname(os.path.dirname(SCRIPT))
ENV = {"PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}


def test_two_local_workers_train_like_one_process(tmp_path):
    outputs = cluster.run_local_workers(SCRIPT, 2, args=[tmp_path / "run"], env=ENV)
    worker_logs = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    env = {**os.environ, **ENV, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    single = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run")], capture_output=True, text=True,
                            env=env, timeout=300)
    assert single.returncode == 0, single.stderr[-2000:]
    single_logs = json.loads(single.stdout.strip().splitlines()[-1])
    # Two replicas, one per worker, so each step's global batch of 8 is split 4 + 4.
    assert [logs.pop("replicas") for logs in worker_logs] == [2, 2] and single_logs.pop("replicas") == 1
    for name in ["CharLanguageModel", "GAN"]:
        one = np.load(tmp_path / f"run_single_{name}.npz")
        assert max(np.abs(one[k]).max() for k in one) > 1e-3, f"{name}: training changed nothing"
        for worker in (0, 1):  # each worker holds a mirrored copy of every variable
            two = np.load(tmp_path / f"run_{worker}_{name}.npz")
            for key in one:
                np.testing.assert_allclose(two[key], one[key], rtol=1e-4, atol=1e-6,
                                           err_msg=f"{name} variable {key} on worker {worker}")
        for logs in worker_logs:
            assert logs[name].keys() == single_logs[name].keys()
            for metric, value in single_logs[name].items():
                assert logs[name][metric] == pytest.approx(value, rel=1e-5), f"{name} {metric}"


def test_a_failing_worker_is_reported_with_its_error(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import os, sys\nif '\"index\": 1' in os.environ['TF_CONFIG']:\n    sys.exit('worker one broke')\n"
                      "import time\ntime.sleep(60)\n")
    with pytest.raises(RuntimeError, match=r"worker 1 of 2 failed \(exit code 1\):\nworker one broke"):
        cluster.run_local_workers(str(script), 2, timeout=30)


def test_tf_config_names_the_cluster_and_the_task():
    config = json.loads(cluster.tf_config(["localhost:1", "localhost:2"], 1))
    assert config == {"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="index must be in"):
        cluster.tf_config(["localhost:1"], 1)
