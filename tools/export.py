r"""Exports a pose run + RGB run as one SavedModel (logit-level fusion).

  python tools/export.py --pose_dir=runs/pose --rgb_dir=runs/rgb \
    --output_dir=export/ntu60_cs [--glimpse_weights=imagenet]

Writes ``serving_default`` / ``from_features`` and ``from_crops`` signatures
and ``export_info.json`` (see ``posedriven.export.saved_model``).
``--glimpse_weights`` must be the sensor preparation used.
"""

from absl import app
from absl import flags

from posedriven.export import saved_model

flags.DEFINE_string("output_dir", None, "Export directory (must not exist).",
                    required=True)
flags.DEFINE_string("pose_dir", None, "Finished pose run.", required=True)
flags.DEFINE_string("rgb_dir", None, "Finished RGB run.", required=True)
flags.DEFINE_string("glimpse_weights", "imagenet",
                    "Glimpse sensor weights preparation used: 'imagenet' or a"
                    " weights file.")
flags.DEFINE_integer("glimpse_input_size", None,
                     "Sensor input side; default: preparation's.")
flags.DEFINE_float("fusion_weight", 0.5, "Weight of the pose logits.")
flags.DEFINE_string("data_dir", None,
                    "Prepared data of the RGB run, if it moved.")
flags.DEFINE_boolean("overwrite", False, "Replace an existing output_dir.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  print(saved_model.export_model(
      FLAGS.output_dir, pose_dir=FLAGS.pose_dir, rgb_dir=FLAGS.rgb_dir,
      glimpse_weights=FLAGS.glimpse_weights,
      glimpse_input_size=FLAGS.glimpse_input_size,
      fusion_weight=FLAGS.fusion_weight, data_dir=FLAGS.data_dir,
      overwrite=FLAGS.overwrite))


def run():
  app.run(main)


if __name__ == "__main__":
  run()
