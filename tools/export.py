r"""Exports a pose run + RGB run as one SavedModel (logit-level fusion).

  python tools/export.py --pose_dir=runs/pose --rgb_dir=runs/rgb \
    --output_dir=export/ntu60_cs [--glimpse_weights=imagenet]

Writes ``serving_default`` / ``from_features`` and ``from_crops`` signatures
(and ``_bfloat16`` twins of both unless ``--precisions=float32``),
``export_info.json`` and ``operative_config.gin`` (see
``posedriven.export.saved_model``). ``--glimpse_weights`` must be the sensor
preparation used. Every setting is a keyword of ``export_model`` (gin); the
flags below are shorthands for its bindings.
"""

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import config
from posedriven.export import saved_model

flags.DEFINE_string("output_dir", None, "Export directory (must not exist).",
                    required=True)
flags.DEFINE_string("pose_dir", None, "Finished pose run.", required=True)
flags.DEFINE_string("rgb_dir", None, "Finished RGB run.", required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_string("glimpse_weights", None,
                    "Glimpse sensor weights preparation used: 'imagenet'"
                    " (default) or a weights file.")
flags.DEFINE_integer("glimpse_input_size", None,
                     "Sensor input side; default: preparation's.")
flags.DEFINE_float("pose_weight", None,
                   "Fusion weight of the pose logits (default 0.5, the"
                   " paper's average).")
flags.DEFINE_string("data_dir", None,
                    "Prepared data of the RGB run, if it moved.")
flags.DEFINE_list("precisions", None,
                  "Weight precisions served (default float32,bfloat16).")
flags.DEFINE_boolean("overwrite", None, "Replace an existing output_dir.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  config.parse_gin(FLAGS.gin_files, FLAGS.gin_bindings, {
      f"export_model.{name}": FLAGS[name].value
      for name in ("glimpse_weights", "glimpse_input_size", "pose_weight",
                   "data_dir", "precisions", "overwrite")})
  print(saved_model.export_model(FLAGS.output_dir, pose_dir=FLAGS.pose_dir,
                                 rgb_dir=FLAGS.rgb_dir))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
