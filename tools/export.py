r"""Exports a pose run + RGB run as one SavedModel (logit-level fusion).

  python tools/export.py --pose_dir=runs/pose --rgb_dir=runs/rgb \
    --output_dir=export/ntu60_cs \
    [--gin_bindings="export_model.glimpse_weights = '/path/sensor.h5'"]

Writes ``serving_default`` / ``from_features`` and ``from_crops`` signatures
(and ``_bfloat16`` twins of both unless ``export_model.precisions =
('float32',)``), ``export_info.json`` and ``operative_config.gin`` (see
``posedriven.export.saved_model``). ``export_model.glimpse_weights``
(default ``'imagenet'``) must be the sensor preparation used and
``export_model.pose_weight`` the fusion weight evaluation used. Every
setting but the paths is a keyword of ``export_model``, set with gin;
``--data_dir`` and ``--overwrite`` are its bindings ``export_model.data_dir``
and ``export_model.overwrite``.
"""

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import binary
from posedriven import config
from posedriven.export import saved_model

flags.DEFINE_string("output_dir", None, "Export directory (must not exist).",
                    required=True)
flags.DEFINE_string("pose_dir", None, "Finished pose run.", required=True)
flags.DEFINE_string("rgb_dir", None, "Finished RGB run.", required=True)
flags.DEFINE_multi_string("gin_files", [], "Gin config files.")
flags.DEFINE_multi_string("gin_bindings", [], "Gin bindings.")
flags.DEFINE_string("data_dir", None,
                    "Prepared data of the RGB run, if it moved (the binding"
                    " export_model.data_dir).")
flags.DEFINE_boolean("overwrite", None, "Replace an existing output_dir (the"
                     " binding export_model.overwrite = True).")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  config.parse_gin(FLAGS.gin_files, binary.with_shorthands(
      FLAGS.gin_bindings, {"export_model.data_dir": FLAGS.data_dir,
                           "export_model.overwrite": FLAGS.overwrite}))
  print(saved_model.export_model(FLAGS.output_dir, pose_dir=FLAGS.pose_dir,
                                 rgb_dir=FLAGS.rgb_dir))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
