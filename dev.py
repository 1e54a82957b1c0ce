#!/usr/bin/env python3
"""Set up the environment and run the course. Needs only Python 3.10+ (standard library).

    python3 dev.py notebooks [NAME ...] [--quick] [--in-place]   # execute the notebook series
    python3 dev.py test                                           # run every test

Each command first makes `.venv/` and installs the package with its `dev` extra (again
only when pyproject.toml changes), then runs inside that environment, offline, on the
data that ships with the packages.
"""

import argparse
import base64
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time
import venv

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BUILD = ROOT / "build"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment():
    """Create .venv and (re)install the package when pyproject.toml has changed."""
    if sys.version_info < (3, 10):
        sys.exit(f"keras_genai needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".keras_genai_installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print("Installing keras_genai and its dependencies (first run takes a few minutes) ...", flush=True)
        pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["--upgrade", "pip"], check=True)
        subprocess.run(pip + ["-e", f"{ROOT}[dev]"], check=True)
        stamp.write_text(wanted)


def run_env(quick):
    # One BLAS thread: TensorFlow already uses both cores, and NumPy's threads fighting it
    # made single FID computations up to 100x slower on this 2-core machine.
    env = dict(os.environ, KERAS_GENAI_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0",
               OPENBLAS_NUM_THREADS="1")
    if quick:
        env["KERAS_GENAI_QUICK"] = "1"
    else:
        env.pop("KERAS_GENAI_QUICK", None)
    return env


def select_notebooks(names):
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return notebooks
    chosen = [nb for nb in notebooks if any(nb.name.startswith(n) or nb.stem == n for n in names)]
    missing = [n for n in names if not any(nb.name.startswith(n) or nb.stem == n for nb in notebooks)]
    if missing:
        sys.exit(f"no notebook matches {missing}; available: {[nb.stem for nb in notebooks]}")
    return chosen


def extract_figures(notebook, folder):
    """Write every PNG output of an executed notebook to folder/cellNN_K.png."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for i, cell in enumerate(notebook.cells):
        for k, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {})
            if "image/png" in data:
                (folder / f"cell{i:02d}_{k}.png").write_bytes(base64.b64decode(data["image/png"]))
                count += 1
    return count


def execute_notebooks(names, quick, in_place, timeout):
    """Runs inside .venv: execute each notebook with nbclient, save it and its figures."""
    import nbclient
    import nbformat

    os.environ.update(run_env(quick))
    out_dir = BUILD / ("notebooks-quick" if quick else "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for path in select_notebooks(names):
        print(f"Running {path.name} ({'quick' if quick else 'full'} run) ...", flush=True)
        notebook = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        client = nbclient.NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        try:
            client.execute()
            status = "ok"
        except nbclient.exceptions.CellExecutionError as error:
            status = "FAILED"
            print(str(error)[-3000:], file=sys.stderr)
        seconds = time.perf_counter() - start
        nbformat.write(notebook, out_dir / path.name)
        figures = extract_figures(notebook, BUILD / "figures" / path.stem)
        if in_place and status == "ok":
            nbformat.write(notebook, path)
        summary.append((path.name, status, seconds, figures))
        print(f"  {status} in {seconds:.0f} s, {figures} figures", flush=True)
    lines = [f"{name:45s} {status:7s} {seconds:7.0f} s {figures:4d} figures" for name, status, seconds, figures in summary]
    (out_dir / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"Executed notebooks: {out_dir}; figures: {BUILD / 'figures'}")
    return 0 if all(s[1] == "ok" for s in summary) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    nb = sub.add_parser("notebooks", help="execute the notebook series headless (full run by default)")
    nb.add_argument("names", nargs="*", help="notebook names or number prefixes, e.g. 02 or 02_variational_autoencoders")
    nb.add_argument("--quick", action="store_true", help="quick run (KERAS_GENAI_QUICK=1)")
    nb.add_argument("--in-place", action="store_true", help="also write the executed notebooks back to notebooks/")
    nb.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    sub.add_parser("test", help="run the unit tests and every notebook in quick mode; "
                   "further arguments go to pytest, e.g. test -k vae")
    sub.add_parser("_execute", add_help=False)  # internal: re-entry inside .venv
    args, extra = parser.parse_known_args(sys.argv[1:2])
    extra += sys.argv[2:]

    if args.command == "_execute":
        spec = json.loads(extra[0])
        return execute_notebooks(spec["names"], spec["quick"], spec["in_place"], spec["timeout"])
    if args.command == "notebooks":
        args = nb.parse_args(extra)
        ensure_environment()
        spec = {"names": args.names, "quick": args.quick, "in_place": args.in_place, "timeout": args.timeout}
        return subprocess.call([str(PYTHON), str(ROOT / "dev.py"), "_execute", json.dumps(spec)], cwd=ROOT)
    ensure_environment()
    targets = ["tests"] + (["notebooks"] if (ROOT / "notebooks").is_dir() else [])
    command = [str(PYTHON), "-m", "pytest", *targets, "--nbval-lax", "--nbval-cell-timeout=600", *extra]
    return subprocess.call(command, cwd=ROOT, env=run_env(quick=True))


if __name__ == "__main__":
    sys.exit(main())
