r"""Classifies one clip (skeleton + RGB video) with an exported model.

  python tools/predict.py --model=export/ntu60_cs \
    --skeleton=S001C001P001R001A001.skeleton \
    --video=S001C001P001R001A001_rgb.avi --attention_png=attention.png
  python tools/predict.py --model=export/sbu_fold1 --skeleton=sbu/s01s02/03/001
  python tools/predict.py --model=export/msr_cs \
    --skeleton=msr/a01_s01_e01_skeleton.txt

Prints the top-5 classes with their probabilities (10 sub-sequences
averaged, as in evaluation).
"""

from absl import app
from absl import flags

from posedriven.export import predict

flags.DEFINE_string("model", None, "Export directory (tools/export.py).",
                    required=True)
flags.DEFINE_string("skeleton", None,
                    "NTU .skeleton file, MSR aXX_sYY_eZZ_skeleton.txt or SBU"
                    " sequence directory (sXXsYY/AA/SSS).", required=True)
flags.DEFINE_string("video", None,
                    "The clip's RGB video (default for MSR: the"
                    " _rgb.avi beside the skeleton; for SBU: the sequence's"
                    " images; NTU needs it).")
flags.DEFINE_integer("top_k", 5, "Classes printed.")
flags.DEFINE_string("attention_png", None,
                    "Write the attention figure here.")
flags.DEFINE_list("skeleton_image_size", None,
                  "width,height the skeleton's pixels refer to (default:"
                  " NTU's 1920,1080, or a synthetic dataset's size).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  size = FLAGS.skeleton_image_size
  prediction = predict.predict_clip(
      FLAGS.model, FLAGS.skeleton, FLAGS.video, top_k=FLAGS.top_k,
      attention_png=FLAGS.attention_png,
      skeleton_image_size=[int(v) for v in size] if size else None)
  print(f"{prediction.clip_name} ({prediction.num_frames} frames):")
  print(predict.format_top_k(prediction))
  if prediction.attention_png:
    print(f"attention: {prediction.attention_png}")


def run():
  app.run(main)


if __name__ == "__main__":
  run()
