"""Dataset preparation: skeletons + video -> glimpse features -> TFRecords.

A stage above the data layer and the glimpse sensor: :mod:`.sharding`
(which clips go in which file, the manifest), :mod:`.sensor_pass` (hand
patches -> crops -> features in full batches), :mod:`.progress`,
:mod:`.clip_quality` (degraded clips, labels outside the classes),
:mod:`.output_dir` (the directory's checks and claim), :mod:`.record_reuse`
(another protocol's records copied, not recomputed), :mod:`.file_writer`
(the threaded decode + sensor pipeline that writes one file) and
:mod:`.preparer` (:func:`prepare_dataset`, which plans the files and writes
them; with ``runner=`` an Apache Beam pipeline, :mod:`.beam_pipeline`,
writes them with the same code on many workers; on Dask's scheduler,
:mod:`.dask_cluster`).
"""

from posedriven.prepare.preparer import prepare_dataset
from posedriven.prepare.sharding import MANIFEST
from posedriven.prepare.sharding import MANIFEST_PARTS
from posedriven.prepare.sharding import merge_manifest
