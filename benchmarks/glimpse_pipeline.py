r"""Benchmark of the glimpse pipeline: decode, sensor, whole preparation, RSS.

Reports in one run:
  (a) raw OpenCV decode fps over a set of synthetic Full-HD clips (MJPG), or
      of a real video with ``--video`` (NTU's are H.264);
  (b) raw GlimpseSensor crops/s at ``--input_size`` and ``--batch_size``,
      one batch at a time and with preparation's concurrent batches; the
      faster is ``b``;
  (c) ``prepare_dataset`` crops/s and clips/s on the same clips;
  (d) peak RSS of preparing one 100-frame and one 300-frame Full-HD clip,
      each in a fresh subprocess (``resource.getrusage``);
  (e) with ``--beam_workers=N`` (N > 0): the same clips through the Apache
      Beam pipeline (``prepare_dataset(runner="DirectRunner")``, N worker
      processes), each pass right after a pass of (c) so both see the same
      load; end to end (each pass launches N fresh workers that import
      TensorFlow and build the sensor) and writing only (first file's start
      to last file's end), plus per-clip costs for planning a dataset run;
  (f) with ``--dask_workers=N`` (N > 0): the same through Beam's Dask
      runner (``prepare_dataset(runner="DaskRunner")``: a
      ``distributed.LocalCluster`` of N worker processes on 127.0.0.1,
      scheduler and workers over TCP), each pass right after a pass of (c);
      writing only, and start-up (cluster, workers importing TensorFlow,
      sensor builds) plus shut-down apart.
and checks:
  * pipeline crops/s >= 0.7 * min(4 * decode fps, sensor crops/s);
  * Beam writing crops/s >= 0.9 * pipeline crops/s (with ``--beam_workers``);
  * Dask writing crops/s >= 0.9 * pipeline crops/s (with ``--dask_workers``);
  * peak RSS grows < 20% from the 100- to the 300-frame clip (streaming).

Run (CPU, a few minutes)::

  python benchmarks/glimpse_pipeline.py --input_size=75 --num_clips=8 \
      --passes=4
  python benchmarks/glimpse_pipeline.py --input_size=75 --num_clips=8 \
      --passes=4 --video=../shared/data/ntu_samples/S001C001P001R001A001_rgb.avi
  python benchmarks/glimpse_pipeline.py --input_size=299 --num_clips=4 \
      --num_frames=40 --passes=3

  python benchmarks/glimpse_pipeline.py --input_size=75 --num_clips=16 \
      --passes=3 --clips_per_file=4 --beam_workers=2 --rss_frames=
  python benchmarks/glimpse_pipeline.py --input_size=75 --num_clips=16 \
      --passes=3 --clips_per_file=4 --dask_workers=2 --rss_frames=

Random sensor weights are used by default (``--weights=imagenet`` for the
real ones): the speed is the same. They are saved to a file in the work
directory, which the Beam workers load.
"""

from __future__ import annotations

from concurrent import futures
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runnable as a script from a checkout (no install needed).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
import numpy as np

flags.DEFINE_integer("input_size", 75, "GlimpseSensor input size (>= 75).")
flags.DEFINE_integer("batch_size", 64, "Crops per sensor batch.")
flags.DEFINE_integer("num_clips", 4, "Clips in the throughput set.")
flags.DEFINE_integer("num_frames", 100,
                     "Frames per throughput clip (NTU clips are mostly"
                     " 60-130 frames; shorter clips weigh per-clip start-up"
                     " more).")
flags.DEFINE_string("image_size", "1920x1080", "Video size WxH.")
flags.DEFINE_integer("crop_size_px", 50, "Crop side in source pixels.")
flags.DEFINE_string("video", None,
                    "A real video (e.g. an NTU H.264 clip) that every clip of"
                    " the throughput set decodes instead of its synthetic MJPG"
                    " video; its first --num_frames frames are used.")
flags.DEFINE_string("weights", None, "Sensor weights (None: random).")
flags.DEFINE_string("mixed_precision", None, "e.g. mixed_float16 (GPU).")
flags.DEFINE_list("rss_frames", ["100", "300"], "Clip lengths for (d).")
flags.DEFINE_integer("passes", 1,
                     "Prepare the clip set this many times in one process."
                     " Pass 1 includes tracing the sensor; with more passes"
                     " (c) and the target use the median of passes 2..N.")
flags.DEFINE_string("work_dir", None, "Scratch directory (default: temp).")
flags.DEFINE_integer("clips_per_file", 64,
                     "Clips per TFRecord file, (c) and (e) alike; Beam"
                     " spreads files over workers, so use several files.")
flags.DEFINE_integer("beam_workers", 0,
                     "(e): DirectRunner worker processes (0: no Beam row;"
                     " needs pip install -e '.[beam]').")
flags.DEFINE_integer("dask_workers", 0,
                     "(f): worker processes of the Dask runner's local"
                     " cluster (0: no Dask row; needs pip install -e"
                     " '.[dask]').")
flags.DEFINE_string("rss_probe_root", None,
                    "Internal: prepare this dataset and print peak RSS.")

FLAGS = flags.FLAGS


def _size() -> tuple[int, int]:
  if FLAGS.video:
    from posedriven.data import video
    with video.VideoReader(FLAGS.video) as reader:
      return reader.size
  width, height = FLAGS.image_size.lower().split("x")
  return int(width), int(height)


def _make_clips(root: Path, num_clips: int, num_frames: int) -> list[str]:
  """Synthetic clips; with ``--video`` their videos link to that file."""
  from posedriven.data import synthetic
  actions = list(range(1, min(num_clips, synthetic.NUM_CLASSES) + 1))
  subjects = -(-num_clips // len(actions))
  names = synthetic.generate_dataset(
      root, num_subjects=subjects, cameras=(1,), actions=actions,
      image_size=_size(), num_frames_range=(num_frames, num_frames),
      crop_size_px=FLAGS.crop_size_px, seed=0, second_person_probability=1.0)
  if FLAGS.video:
    for name in names:
      path = synthetic.video_path(root, name)
      path.unlink(missing_ok=True)
      path.symlink_to(Path(FLAGS.video).resolve())
  return names[:num_clips]


def _sensor(weights=None):
  from posedriven.models import glimpse
  return glimpse.GlimpseSensor(weights=weights or FLAGS.weights,
                               input_size=FLAGS.input_size,
                               dtype=FLAGS.mixed_precision)


def _weights_file(work: Path) -> str:
  """A weights file every Beam worker loads (random weights are saved)."""
  if FLAGS.weights:
    return FLAGS.weights
  path = work / f"random_sensor_{FLAGS.input_size}.weights.h5"
  if not path.exists():
    sensor = _sensor()
    sensor(np.zeros((1, FLAGS.input_size, FLAGS.input_size, 3), np.uint8))
    sensor.backbone.save_weights(path)
  return str(path)


def _prepare(root: Path, out: Path, sensor, max_clips=None, **kwargs):
  from posedriven import prepare
  # Camera 1 only (_make_clips): synthetic_cv's test split, on purpose.
  return prepare.prepare_dataset(
      root, out, dataset="synthetic", protocol="synthetic_cv",
      clips_per_file=FLAGS.clips_per_file, batch_size=FLAGS.batch_size,
      sensor=sensor, max_clips=max_clips, log_every_s=1e9,
      allow_empty_split=True, **kwargs)


def decode_fps(root: Path, names: list[str], decode_threads: int | None = None
               ) -> tuple[float, float]:
  """Frames/s and CPU seconds per frame of plain OpenCV (BGR) decoding."""
  from posedriven.data import synthetic
  from posedriven.data import video
  frames, start, cpu = 0, time.perf_counter(), time.process_time()
  for name in names:
    with video.VideoReader(synthetic.video_path(root, name),
                           decode_threads=decode_threads) as reader:
      frames += sum(1 for _ in reader.read_frames(rgb=False))
  return (frames / (time.perf_counter() - start),
          (time.process_time() - cpu) / frames)


def sensor_crops_per_s(sensor, in_flight: int, min_seconds: float = 5.0
                       ) -> tuple[float, float]:
  """Crops/s and CPU seconds per crop of the sensor alone.

  ``in_flight`` batches run concurrently, as preparation runs them.
  """
  import tensorflow as tf
  size = FLAGS.crop_size_px
  fn = tf.function(lambda crops: sensor(crops, training=False))
  crops = tf.constant(np.random.default_rng(0).integers(
      0, 256, (FLAGS.batch_size, size, size, 3), dtype=np.uint8))
  for _ in range(2):
    fn(crops).numpy()

  def worker(deadline: float) -> int:
    calls = 0
    while time.perf_counter() < deadline or calls < 3:
      fn(crops).numpy()
      calls += 1
    return calls

  start, cpu = time.perf_counter(), time.process_time()
  with futures.ThreadPoolExecutor(in_flight) as pool:
    calls = sum(pool.map(worker, [start + min_seconds] * in_flight))
  n = calls * FLAGS.batch_size
  return n / (time.perf_counter() - start), (time.process_time() - cpu) / n


def _rss_probe(root: str) -> None:
  out = Path(tempfile.mkdtemp())
  summary = _prepare(Path(root), out, _sensor())
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
  print(f"RSS_PEAK_MB {peak_mb:.1f} frames={summary['manifest']['clips'][0]['frames']}")


def peak_rss_mb(root: Path) -> tuple[float, int]:
  cmd = [sys.executable, os.path.abspath(__file__),
         f"--rss_probe_root={root}", f"--input_size={FLAGS.input_size}",
         f"--batch_size={FLAGS.batch_size}",
         f"--crop_size_px={FLAGS.crop_size_px}"]
  if FLAGS.weights:
    cmd.append(f"--weights={FLAGS.weights}")
  result = subprocess.run(cmd, capture_output=True, text=True, check=True)
  line = next(l for l in result.stdout.splitlines()
              if l.startswith("RSS_PEAK_MB"))
  parts = line.split()
  return float(parts[1]), int(parts[2].split("=")[1])


def _runner_pass(summary) -> tuple[float, ...]:
  """(end-to-end crops/s, writing crops/s, seconds, writing seconds, worker
  CPU seconds per crop) of one runner pass."""
  crops = 4 * sum(c["frames"] or 0 for c in summary["manifest"]["clips"])
  return (summary["crops_per_s"], crops / summary["writing_seconds"],
          summary["seconds"], summary["writing_seconds"],
          summary["worker_cpu_seconds"] / max(crops, 1))


def _print_runner_row(title: str, startup: str, runner_passes, pipeline_crops_s,
                      pipeline_clips_s, pipeline_cpu) -> None:
  warm = runner_passes[1:] or runner_passes
  e2e, writing, seconds, writing_s, runner_cpu = (
      float(np.median([p[i] for p in warm])) for i in range(5))
  clips = FLAGS.num_clips
  n = len(runner_passes)
  print(f"{title}, {FLAGS.clips_per_file} clips/file: writing {writing:.1f}"
        f" crops/s, end to end {e2e:.1f} crops/s ({seconds:.1f} s of which"
        f" {seconds - writing_s:.1f} s {startup}; median of"
        f" {f'passes 2-{n}' if n > 1 else '1 pass'})")
  print("    crops/s per pass (writing / end to end): " + ", ".join(
      f"{p[1]:.1f} / {p[0]:.1f}" for p in runner_passes))
  print("    seconds per pass (end to end / writing): " + ", ".join(
      f"{p[2]:.1f} / {p[3]:.1f}" for p in runner_passes))
  # On shared cores N processes get a larger share than one: CPU time per
  # crop compares the two paths' work, whatever the load.
  print(f"    {1e3 * runner_cpu:.2f} CPU-ms/crop in the workers vs (c)"
        f" {1e3 * pipeline_cpu:.2f}: (c) / workers ="
        f" {pipeline_cpu / runner_cpu:.2f}x")
  ratio = writing / pipeline_crops_s
  print(f"    target writing >= 0.9 x (c): {ratio:.2f}x"
        f" {'PASS' if ratio >= 0.9 else 'FAIL'}; end to end"
        f" {e2e / pipeline_crops_s:.2f}x")
  # Machine-seconds per clip (all cores busy), for planning a dataset.
  cores = os.cpu_count() or 1
  print(f"    per {FLAGS.num_frames}-frame clip on {cores} cores: (c)"
        f" {1 / pipeline_clips_s:.2f} s, writing {writing_s / clips:.2f}"
        f" s; {startup} {seconds - writing_s:.1f} s per pipeline")


def main(argv):
  del argv
  if FLAGS.rss_probe_root:
    _rss_probe(FLAGS.rss_probe_root)
    return
  logging.set_verbosity(logging.WARNING)
  work = Path(FLAGS.work_dir or tempfile.mkdtemp(prefix="glimpse_bench_"))
  clips_root = work / (
      f"clips_{FLAGS.image_size}_{FLAGS.num_clips}x{FLAGS.num_frames}" +
      (f"_{Path(FLAGS.video).stem}" if FLAGS.video else ""))
  names = _make_clips(clips_root, FLAGS.num_clips, FLAGS.num_frames)
  if FLAGS.video:
    # Every clip would warn that its skeleton is shorter than the video.
    logging.set_verbosity(logging.ERROR)

  load_before = os.getloadavg()
  fps, decode_cpu = decode_fps(clips_root, names)
  fps_1, decode_cpu_1 = decode_fps(clips_root, names, decode_threads=1)
  weights = _weights_file(work)
  sensor = _sensor(weights)
  from posedriven.prepare import sensor_pass
  # The sensor's best of one batch at a time and of preparation's in-flight
  # batches: the target must not be eased by a slow sensor baseline.
  sensor_runs = {n: sensor_crops_per_s(sensor, n)
                 for n in sorted({1, sensor_pass.SENSOR_CALLS_IN_FLIGHT})}
  best = max(sensor_runs, key=lambda n: sensor_runs[n][0])
  crops_s, sensor_cpu = sensor_runs[best]
  passes = []  # (crops/s, clips/s, CPU seconds per crop)
  beam_passes = []  # (end-to-end crops/s, writing crops/s, seconds, writing)
  dask_passes = []  # the same
  for _ in range(max(1, FLAGS.passes)):
    out = work / f"prepared_{time.time_ns()}"
    cpu = time.process_time()
    summary = _prepare(clips_root, out, sensor, max_clips=FLAGS.num_clips)
    crops = 4 * sum(c["frames"] or 0 for c in summary["manifest"]["clips"])
    passes.append((summary["crops_per_s"], summary["clips_per_s"],
                   (time.process_time() - cpu) / max(crops, 1)))
    if FLAGS.beam_workers > 0:
      beam = _prepare(
          clips_root, work / f"beam_{time.time_ns()}", None,
          max_clips=FLAGS.num_clips, glimpse_weights=weights,
          glimpse_input_size=FLAGS.input_size,
          mixed_precision=FLAGS.mixed_precision, runner="DirectRunner",
          beam_options=[f"--direct_num_workers={FLAGS.beam_workers}",
                        "--direct_running_mode=multi_processing"])
      beam_passes.append(_runner_pass(beam))
    if FLAGS.dask_workers > 0:
      dask = _prepare(
          clips_root, work / f"dask_{time.time_ns()}", None,
          max_clips=FLAGS.num_clips, glimpse_weights=weights,
          glimpse_input_size=FLAGS.input_size,
          mixed_precision=FLAGS.mixed_precision, runner="DaskRunner",
          dask_workers=FLAGS.dask_workers)
      dask_passes.append(_runner_pass(dask))
  load_after = os.getloadavg()
  warm = passes[1:] or passes
  pipeline_crops_s, pipeline_clips_s, pipeline_cpu = (
      float(np.median([p[i] for p in warm])) for i in range(3))

  rss = {}
  for frames in (int(f) for f in FLAGS.rss_frames if f):
    root = work / f"rss_1920x1080_{frames}"
    from posedriven.data import synthetic
    synthetic.generate_dataset(
        root, num_subjects=1, cameras=(1,), actions=(1,),
        image_size=(1920, 1080), num_frames_range=(frames, frames),
        crop_size_px=50, seed=0)
    rss[frames] = peak_rss_mb(root)

  target = 0.7 * min(4 * fps, crops_s)
  print(f"setup: {FLAGS.num_clips} clips x {FLAGS.num_frames} frames at"
        f" {'x'.join(map(str, _size()))}"
        f" ({FLAGS.video or 'synthetic MJPG'}), crop {FLAGS.crop_size_px}px,"
        f" sensor input {FLAGS.input_size}, batch {FLAGS.batch_size},"
        f" mixed_precision={FLAGS.mixed_precision}, cpus={os.cpu_count()}")
  print(f"(a) OpenCV decode: {fps:.1f} frames/s ({4 * fps:.1f} crops/s),"
        f" {1e3 * decode_cpu:.2f} CPU-ms/frame; with 1 decode thread"
        f" {fps_1:.1f} frames/s, {1e3 * decode_cpu_1:.2f} CPU-ms/frame")
  for n, (rate, cpu_s) in sensor_runs.items():
    print(f"(b) GlimpseSensor, {n} batch(es) in flight: {rate:.1f} crops/s,"
          f" {1e3 * cpu_s:.2f} CPU-ms/crop" + (" <- b" if n == best else ""))
  print(f"(c) prepare_dataset: {pipeline_crops_s:.1f} crops/s,"
        f" {pipeline_clips_s:.2f} clips/s ({summary['clips']['ok']} clips"
        + (f"; median of passes 2-{len(passes)}" if len(passes) > 1 else "")
        + ")")
  if len(passes) > 1:
    print("    crops/s per pass: " + ", ".join(f"{p[0]:.1f}" for p in passes))
  # On a CPU-only machine decode and CNN share the cores, so the CPU time
  # per crop shows the pipeline's own overhead better than wall time.
  parts_cpu = min(decode_cpu, decode_cpu_1) / 4 + sensor_cpu
  print(f"    {1e3 * pipeline_cpu:.2f} CPU-ms/crop vs decode/4 + sensor ="
        f" {1e3 * parts_cpu:.2f} (overhead {100 * (pipeline_cpu / parts_cpu - 1):+.0f}%)")
  ok = pipeline_crops_s >= target
  print(f"    target >= 0.7 * min(4a, b) = {target:.1f} crops/s:"
        f" {'PASS' if ok else 'FAIL'} ({pipeline_crops_s / target * 0.7:.2f}"
        " x min(4a, b))")
  if beam_passes:
    _print_runner_row(
        f"(e) Beam DirectRunner, {FLAGS.beam_workers} worker processes",
        "launching workers", beam_passes, pipeline_crops_s, pipeline_clips_s,
        pipeline_cpu)
  if dask_passes:
    _print_runner_row(
        f"(f) Beam DaskRunner, local cluster of {FLAGS.dask_workers} worker"
        " processes", "start-up and shut-down", dask_passes,
        pipeline_crops_s, pipeline_clips_s, pipeline_cpu)
  print(f"    load average (1, 5, 15 min) before {load_before[0]:.2f},"
        f" {load_before[1]:.2f}, {load_before[2]:.2f}; after"
        f" {load_after[0]:.2f}, {load_after[1]:.2f}, {load_after[2]:.2f}")
  for frames, (mb, stored) in rss.items():
    print(f"(d) peak RSS, {frames}-frame 1920x1080 clip ({stored} frames"
          f" prepared): {mb:.0f} MB")
  if len(rss) >= 2:
    lengths = sorted(rss)
    small, large = rss[lengths[0]][0], rss[lengths[-1]][0]
    growth = large / small - 1.0
    print(f"    RSS growth {lengths[0]} -> {lengths[-1]} frames:"
          f" {100 * growth:+.1f}% (target < 20%):"
          f" {'PASS' if growth < 0.2 else 'FAIL'}")


if __name__ == "__main__":
  app.run(main)
