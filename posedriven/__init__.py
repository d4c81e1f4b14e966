"""posedriven: human activity recognition with pose-driven attention to RGB.

Implements Baradel, Wolf, Mille & Taylor, "Human Activity Recognition with
Pose-driven Attention to RGB", BMVC 2018.
"""

__version__ = "0.1.0"
