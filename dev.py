#!/usr/bin/env python3
"""Set up the environment and run the course. Needs only Python 3.10+ (standard library).

    python3 dev.py notebooks [NAME ...] [--quick] [--in-place]   # execute the notebook series
    python3 dev.py test                                           # run every test
    python3 dev.py lab                                            # open the course in JupyterLab

Each command first makes `.venv/` and installs the package with its `dev` extra (`lab` adds
JupyterLab) at the tested versions of constraints.txt (again only when pyproject.toml or
constraints.txt change), then runs inside that environment; notebooks and tests run offline,
on the data that ships with the packages.
"""

import argparse
import base64
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
import venv

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BUILD = ROOT / "build"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment(extras=("dev",)):
    """Create .venv and (re)install the package when pyproject.toml, constraints.txt or the extras change."""
    if sys.version_info < (3, 10):
        sys.exit(f"keras_genai needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".keras_genai_installed"
    installed = json.loads(stamp.read_text()) if stamp.exists() and stamp.read_text().startswith("{") else {}
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()).hexdigest()
    wanted = sorted(set(extras) | set(installed.get("extras", [])) if installed.get("digest") == digest else set(extras))
    if installed != {"digest": digest, "extras": wanted}:
        print(f"Installing keras_genai[{','.join(wanted)}] and its dependencies (first run takes a few minutes) ...", flush=True)
        pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["--upgrade", "pip"], check=True)
        subprocess.run(pip + ["-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[{','.join(wanted)}]"], check=True)
        stamp.write_text(json.dumps({"digest": digest, "extras": wanted}))


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


def _clock(seconds):
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


class _CellProgress:
    """Prints which cell of which notebook is running, and a heartbeat while a long cell runs."""

    def __init__(self, name, cells, heartbeat=60.0):
        self.name, self.heartbeat = name, heartbeat
        self.code_cells = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]
        self.start = time.perf_counter()
        self._timer = None

    def on_cell_execute(self, cell, cell_index, **_):
        self._cancel()
        first_line = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
        number = self.code_cells.index(cell_index) + 1 if cell_index in self.code_cells else "?"
        print(f"  {self.name}: code cell {number}/{len(self.code_cells)} (cell {cell_index}) at "
              f"{_clock(time.perf_counter() - self.start)}: {first_line}", flush=True)
        self._cell_start = time.perf_counter()
        self._schedule(cell_index)

    def _schedule(self, cell_index):
        def beat():
            print(f"    ... cell {cell_index} still running: {_clock(time.perf_counter() - self._cell_start)} in this cell, "
                  f"{_clock(time.perf_counter() - self.start)} in the notebook", flush=True)
            self._schedule(cell_index)

        self._timer = threading.Timer(self.heartbeat, beat)
        self._timer.daemon = True
        self._timer.start()

    def _cancel(self, **_):
        if self._timer is not None:
            self._timer.cancel()

    on_cell_executed = _cancel  # nbclient's on_cell_complete fires when the request is sent, not answered


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
        progress = _CellProgress(path.stem[:2], notebook.cells)
        client = nbclient.NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
            on_cell_execute=progress.on_cell_execute, on_cell_executed=progress.on_cell_executed,
        )
        try:
            client.execute()
            status = "ok"
        except nbclient.exceptions.CellExecutionError as error:
            status = "FAILED"
            print(str(error)[-3000:], file=sys.stderr)
        finally:
            progress.on_cell_executed()
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
    sub.add_parser("lab", help="open the course in JupyterLab (installs it the first time); "
                   "further arguments go to jupyter lab, e.g. lab --no-browser")
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
    if args.command == "lab":
        ensure_environment(("dev", "lab"))
        jupyter = VENV / ("Scripts/jupyter.exe" if os.name == "nt" else "bin/jupyter")
        return subprocess.call([str(jupyter), "lab", str(ROOT / "notebooks"), *extra], cwd=ROOT)
    ensure_environment()
    targets = ["tests"] + (["notebooks"] if (ROOT / "notebooks").is_dir() else [])
    # Two workers (pytest-xdist) for the two cores: much of a notebook's run is one-threaded kernel
    # start-up and Python, and in parallel the whole run took 485 s instead of 876 s. loadscope keeps
    # every cell of a notebook, and every test of a module, on one worker.
    command = [str(PYTHON), "-m", "pytest", *targets, "--nbval-lax", "--nbval-cell-timeout=600",
               "-n", "2", "--dist", "loadscope", "--durations=30", *extra]
    return subprocess.call(command, cwd=ROOT, env=run_env(quick=True))


if __name__ == "__main__":
    sys.exit(main())
