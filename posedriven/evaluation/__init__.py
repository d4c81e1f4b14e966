"""Statistics and tables of results: one interval method, used everywhere.

Modules:

* ``bootstrap``: performance ids, the bootstrap and ``summarize`` (row
  accuracies and claim differences with their intervals);
* ``claims``: the verdict on a claim ``better > worse``;
* ``outcomes``: per-clip outcome records (which clip each row got right)
  and the glue from them to ``bootstrap``;
* ``tables``: the printed tables of rows, halves and claims.

The interval method (the only one in the project; the demo, ``--full``,
selection and every benchmark use it):

* **Unit of independence.** A clip is not one: NTU-style sets film each
  performance with several cameras, and the synthetic set's
  ``paired_objects`` records one performance under two classes, so their
  clips share outcomes. Clips are grouped into performances
  (``bootstrap.performance_ids``: NTU names without their camera, joined
  by ``action_groups``; any other name, e.g. an SBU or MSR clip, is its own
  performance), and performances are resampled, never clips.
* **Seeds.** With several training seeds, a two-stage bootstrap: each
  sample draws the seeds with replacement, then the performances of each
  drawn seed, and pools the drawn clips, so the spread covers both the
  training run and the test sample. One seed: performances only.
* **Paired.** All rows of a table are scored on the same clips
  (``correct[R, N]``), and one bootstrap sample draws one set of seeds and
  performances for all rows: the difference between two rows gets the
  paired interval that a claim is judged on (``claims.verdict``).
* **Interval.** The central 95% percentile interval of 4,000 samples
  (``bootstrap.LEVEL``, ``bootstrap.NUM_SAMPLES``), seeded, so a result
  file reproduces. The point estimate is the pooled accuracy (with equal
  test sets per seed, the mean over seeds).
"""
