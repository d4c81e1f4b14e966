r"""Classifies one clip (skeleton + RGB video) with an exported model.

  python tools/predict.py --model=export/ntu60_cs \
    --skeleton=S001C001P001R001A001.skeleton \
    --video=S001C001P001R001A001_rgb.avi --attention_png=attention.png
  python tools/predict.py --model=export/sbu_fold1 --skeleton=sbu/s01s02/03/001
  python tools/predict.py --model=export/msr_cs \
    --skeleton=msr/a01_s01_e01_skeleton.txt

Prints the top-5 classes with their probabilities (10 sub-sequences
averaged, as in evaluation) and the seconds of each stage (load_model,
skeleton, decode, crops, inception_v3, model, total); ``--output_json``
writes the same as JSON. ``--precision=bfloat16`` runs the fused model's
bfloat16 signature.
"""

import sys

from absl import app
from absl import flags

from posedriven import console

# Before TensorFlow loads: its native start-up lines (posedriven.console).
console.filter_native_logs()

from posedriven import atomic
from posedriven import binary
from posedriven.export import predict
from posedriven.export import serving_copy

flags.DEFINE_string(
    "model", None,
    "Export directory (tools/export.py). A SavedModel is code: its graph can"
    " read and write files with this process's rights, so only use a"
    " directory from a trusted source. predict checks that it is an intact"
    " export of this project (format and SHA-256 fingerprint in"
    " export_info.json) before loading it; that check is no signature"
    " (README, 'Trust model').", required=True)
flags.DEFINE_string("skeleton", None,
                    "NTU .skeleton file, MSR aXX_sYY_eZZ_skeleton.txt or SBU"
                    " sequence directory (sXXsYY/AA/SSS).", required=True)
flags.DEFINE_string("video", None,
                    "The clip's RGB video (default for MSR: the"
                    " _rgb.avi beside the skeleton; for SBU: the sequence's"
                    " images; NTU needs it).")
flags.DEFINE_integer("top_k", 5, "Classes printed.")
flags.DEFINE_string("attention_png", None,
                    "Write the attention figure here (checked before the"
                    " prediction is computed).")
flags.DEFINE_string("output_json", None,
                    "Write the top-k classes and stage times here as JSON.")
flags.DEFINE_enum("precision", "float32", serving_copy.PRECISIONS,
                  "Weight precision of the fused model (the export's"
                  " bfloat16 signature reads half the bytes).")
flags.DEFINE_boolean("overwrite", False,
                     "Replace an existing --attention_png or --output_json.")
flags.DEFINE_list("skeleton_image_size", None,
                  "width,height the skeleton's pixels refer to (default:"
                  " NTU's 1920,1080, SBU's and MSR's 640,480, or a synthetic"
                  " dataset's size).")
FLAGS = flags.FLAGS


@binary.flags_only
def main(argv):
  del argv
  size = FLAGS.skeleton_image_size
  if FLAGS.output_json:
    atomic.check_output_file(FLAGS.output_json, FLAGS.overwrite)
  prediction = predict.predict_clip(
      FLAGS.model, FLAGS.skeleton, FLAGS.video, top_k=FLAGS.top_k,
      attention_png=FLAGS.attention_png, overwrite=FLAGS.overwrite,
      precision=FLAGS.precision,
      skeleton_image_size=[int(v) for v in size] if size else None)
  print(f"{prediction.clip_name} ({prediction.num_frames} frames):")
  print(predict.format_top_k(prediction))
  print(f"seconds: {predict.format_stages(prediction)}")
  if FLAGS.output_json:
    atomic.write_json(FLAGS.output_json, predict.prediction_json(prediction))
  if prediction.attention_png:
    print(f"attention: {prediction.attention_png}")
  if prediction.attention_error:
    # The result above is printed first: a bad output path never loses it.
    sys.exit(f"could not write the attention figure: "
             f"{prediction.attention_error}")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
