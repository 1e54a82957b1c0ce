"""The conda environment, the pip metadata and the README agree with each other."""

import json
import pathlib
import subprocess
import sys

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pins(requirements):
    return {r.replace(" ", "").lower() for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"] + project["optional-dependencies"]["lab"]
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    conda_pip = [l.strip()[2:] for l in lines[start + 1:] if l.strip().startswith("- ")]
    conda_pip = [r for r in conda_pip if r != "-e ."]
    assert _pins(conda_pip) == _pins(wanted), (
        f"only in environment.yml: {_pins(conda_pip) - _pins(wanted)}; only in pyproject: {_pins(wanted) - _pins(conda_pip)}"
    )
    assert "-e ." in [l.strip()[2:] for l in lines[start + 1:]]


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 dev.py test" in readme and "python3 dev.py test" in ci
    assert "python3 dev.py notebooks" in readme


def test_readme_lists_every_notebook_with_a_colab_badge():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{notebook.name}" in readme, f"README does not link {notebook.name}"
        assert f"colab.research.google.com/github/keras-genai/keras_genai/blob/main/notebooks/{notebook.name}" in readme


def test_dependencies_leave_an_existing_tensorflow_alone():
    """A TensorFlow build named differently (tensorflow-cpu) would install a second TensorFlow beside
    Colab's own; exact pins would upgrade or downgrade it. Only loose lower bounds on tensorflow/keras."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in dependencies}
    assert "tensorflow-cpu" not in names and "tensorflow" in names
    assert all("==" not in d and "<" not in d for d in dependencies), dependencies
    constraints = (ROOT / "constraints.txt").read_text()
    assert "\ntensorflow==" in constraints and "tensorflow-cpu" not in constraints.replace("_", "-")


@pytest.mark.skipif("CI" not in __import__("os").environ, reason="asks the package index; runs in CI")
def test_installing_into_this_environment_changes_no_installed_package(tmp_path):
    """pip's own resolver, asked to install the package here (where TensorFlow is already installed),
    plans to install nothing but keras_genai itself."""
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check",
                    "--report", str(report), str(ROOT)], check=True, timeout=600)
    planned = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(report.read_text())["install"]}
    assert planned == {"keras-genai"}, planned


def test_committed_notebooks_carry_no_native_log_lines_or_warnings():
    """absl/oneDNN/CUDA/grappler lines ("I0000 00:00:...", "E0000 ...") and Python warnings in a saved
    notebook are noise to a learner; keras_genai filters the known ones when it is imported first."""
    import re

    absl_line = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:", re.M)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(path.read_text())
        for index, cell in enumerate(notebook["cells"]):
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", ""))
                assert not absl_line.search(text), f"{path.name} cell {index}: {text[:200]}"
                assert "Warning:" not in text and output.get("name") != "stderr", f"{path.name} cell {index}: {text[:200]}"


def test_the_native_log_filter_drops_only_known_lines():
    from keras_genai._native_logs import KNOWN_NOISE

    noise = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1795558753.195847   21230 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n",
        b"E0000 00:00:1795455720.023245   26772 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT: Mutation::Apply error\n",
    ]
    kept = [b"E0000 00:00:1.0 1 op_kernel.cc:1] OOM when allocating tensor\n", b"Traceback (most recent call last):\n"]
    assert all(KNOWN_NOISE.search(line) for line in noise)
    assert not any(KNOWN_NOISE.search(line) for line in kept)
