"""Keep TensorFlow's harmless C++ log lines out of notebook outputs.

TensorFlow 2.21 logs through absl before absl is initialised, so TF_CPP_MIN_LOG_LEVEL no longer
silences these lines: the oneDNN and CPU-feature notices at import (twice), the GPU build's
"Could not find cuda drivers" / "failed call to cuInit" on a machine without a GPU (it then runs
on the CPU, as intended), and grappler's "remapper failed" when an optimisation pass gives up on
a graph (the graph then runs unfused, which is correct). In a Jupyter kernel they land in the saved notebook. `filter_stderr()` routes
file descriptor 2 through a thread that drops exactly these known lines and passes everything
else through unchanged, so a real error still shows.
"""

import atexit
import os
import re
import sys
import threading

KNOWN_NOISE = re.compile(
    rb"All log messages before absl::InitializeLog"
    rb"|oneDNN custom operations are on"
    rb"|cpu_feature_guard\.cc|This TensorFlow binary is optimized|To enable the following instructions"
    rb"|Could not find cuda drivers on your machine|failed call to cuInit"
    rb"|meta_optimizer\.cc:\d+\] remapper failed"
    rb"|oneDNN supports DT_BOOL only on platforms"  # printed when a masked GRU first runs on this CPU
)

_state = {}


def filter_stderr():
    """Install the filter once per process (idempotent). Only inside an IPython kernel, where the
    lines would otherwise be saved with the notebook; scripts keep their stderr as it is."""
    if _state or "ipykernel" not in sys.modules:
        return
    read_end, write_end = os.pipe()
    original = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                if not KNOWN_NOISE.search(line):
                    os.write(original, line)

    thread = threading.Thread(target=pump, name="keras_genai-stderr-filter", daemon=True)
    thread.start()
    _state.update(original=original, thread=thread)
    atexit.register(_restore)


def _restore():
    """Give fd 2 back and let the pump drain what is left in the pipe."""
    os.dup2(_state["original"], 2)  # closes the pipe's last write end: the pump reads to EOF
    _state["thread"].join(timeout=2.0)
