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
