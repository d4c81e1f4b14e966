"""The binaries' console: TensorFlow's native chatter out, the rest kept."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

from posedriven import console

_REPO = Path(__file__).resolve().parents[1]

_NOISE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are"
    b" written to STDERR",
    b"I0000 00:00:1796010785.869092   20016 port.cc:153] oneDNN custom"
    b" operations are on.",
    b"I0000 00:00:1796010785.869424   20016 cudart_stub.cc:31] Could not find"
    b" cuda drivers on your machine, GPU will not be used.",
    b"E0000 00:00:1796010796.833664   20016 cuda_platform.cc:52] failed call"
    b" to cuInit: INTERNAL: CUDA error",
    b"W0000 00:00:1796010796.833664   20016 op_level_cost_estimator.cc:699]"
    b" Error in PredictCost() for the op: op: \"CropAndResize\"",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other"
    b" operations, rebuild TensorFlow with the appropriate compiler flags.",
]
_KEPT = [
    b"E0000 00:00:1796010796.833664   20016 tfrecord.cc:12] DATA_LOSS:"
    b" corrupted record at 12",
    b"F0000 00:00:1796010796.833664   20016 check.cc:1] Check failed",
    b"I1130 03:44:05.103660 140453448137600 best_model.py:25] Loading"
    b" best.keras",
    b"Traceback (most recent call last):",
    b"ValueError: bad clip S001C001P001R001A001",
]


def test_native_info_and_gpu_start_up_lines_are_noise():
  assert all(console.is_noise(line) for line in _NOISE)


def test_python_logs_tracebacks_and_real_native_errors_are_kept():
  # Python's absl log lines (the demo's stage headings) have a real date.
  assert not any(console.is_noise(line) for line in _KEPT)


def test_filter_keeps_python_stderr_and_drops_tensorflow_start_up(tmp_path):
  script = (
      "import sys\n"
      "from posedriven import console\n"
      "console.filter_native_logs()\n"
      "import tensorflow as tf\n"
      "tf.constant(1.0) + 1\n"
      "from absl import logging\n"
      "logging.use_absl_handler()\n"
      "logging.set_verbosity(logging.INFO)\n"
      "logging.info('stage heading')\n"
      "print('to stderr', file=sys.stderr)\n"
      "print('to stdout')\n")
  result = subprocess.run([sys.executable, "-c", script], cwd=_REPO,
                          capture_output=True, timeout=300, check=True)
  assert result.stdout.decode().strip() == "to stdout"
  lines = [l for l in result.stderr.decode().strip().splitlines()
           # absl's own notice when logging is used before flags are parsed.
           if not l.startswith("WARNING: Logging before flag parsing")]
  assert len(lines) == 2, lines
  assert lines[0].endswith("stage heading") and lines[1] == "to stderr"
