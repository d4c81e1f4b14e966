"""posedriven: pose-driven attention to RGB for human activity recognition."""

from setuptools import find_packages, setup

setup(
    name="posedriven",
    version="0.1.0",
    description=("Human activity recognition with pose-driven attention to RGB"
                 " (Baradel et al., BMVC 2018) in TensorFlow 2 / Keras 3"),
    # The thin binaries in tools/ install as posedriven_tools so that console
    # scripts can point at them without a top-level package named "tools".
    packages=find_packages(include=["posedriven", "posedriven.*"]) +
    ["posedriven_tools"],
    package_dir={"posedriven_tools": "tools"},
    package_data={"posedriven.data.formats": ["resources/*.txt"]},
    python_requires=">=3.10",
    # Pinned to the stack measured in BUILD_NOTES.md.
    install_requires=[
        "tensorflow==2.21.0",
        "tensorboard==2.21.0",
        "numpy>=2.4,<2.5",
        "opencv-python-headless>=4.10",
        "absl-py>=2.1",
        "gin-config==0.5.0",
    ],
    extras_require={
        # Preparation as an Apache Beam pipeline (prepare_dataset.runner,
        # a keyword or gin binding). An extra, not a dependency: 2.77 pins
        # protobuf < 7 and pillow < 13, so installing it moves protobuf
        # 7.36 -> 6.33 and pillow 13.0 -> 12.3 (both inside TensorFlow
        # 2.21's ranges), and it adds ~340 MB (pyarrow, beam); the threaded
        # path needs none of it (BUILD_NOTES, issue 16).
        "beam": ["apache-beam==2.77.0"],
        # Beam on Dask's distributed scheduler (runner="DaskRunner": a local
        # cluster, or SLURM / PBS / SGE through dask-jobqueue). distributed
        # pins dask to its own version; 2026.8.0 is the newest distributed
        # and runs Beam 2.77's DaskRunner (which asks for >= 2024.4.2) beside
        # TensorFlow 2.21 (pip check clean; BUILD_NOTES, issue 29).
        "dask": ["apache-beam==2.77.0", "dask==2026.8.0",
                 "distributed==2026.8.0"],
        # hypothesis: the readers' fuzz suite (tests/faults/test_fuzz_readers.py).
        # apache-beam, dask, distributed: tests/prepare/test_beam_pipeline.py
        # and test_dask_cluster.py must run in CI, not skip.
        # pytest-xdist: the suite runs on two processes (pytest.ini), which
        # halves its wall time on 2 cores (BUILD_NOTES, "Test suite").
        "test": ["pytest>=8", "pytest-xdist>=3.6,<4", "hypothesis>=6.150,<7",
                 "apache-beam==2.77.0", "dask==2026.8.0",
                 "distributed==2026.8.0"],
    },
    entry_points={
        "console_scripts": [
            "posedriven-make-synthetic=posedriven_tools.make_synthetic:run",
            "posedriven-demo=posedriven_tools.demo:run",
            "posedriven-prepare=posedriven_tools.prepare_data:run",
            "posedriven-train-pose=posedriven_tools.train_pose:run",
            "posedriven-train-rgb=posedriven_tools.train_rgb:run",
            "posedriven-evaluate=posedriven_tools.evaluate:run",
            "posedriven-export=posedriven_tools.export:run",
            "posedriven-predict=posedriven_tools.predict:run",
            "posedriven-run-experiment=posedriven_tools.run_experiment:run",
        ],
    },
)
