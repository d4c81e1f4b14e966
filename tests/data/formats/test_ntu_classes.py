"""NTU RGB+D class names: 60 and 120, in the order of the action ids."""

from __future__ import annotations

from posedriven.data.formats import ntu
from posedriven.data.formats import ntu_classes
from posedriven.data.formats import registry


def test_class_names():
  assert len(ntu_classes.NTU60_CLASS_NAMES) == 60
  assert len(ntu_classes.NTU120_CLASS_NAMES) == 120
  assert len(set(ntu_classes.NTU120_CLASS_NAMES)) == 120
  assert ntu_classes.NTU60_CLASS_NAMES[0] == "drink water"
  assert ntu_classes.NTU60_CLASS_NAMES[59] == "walking apart from each other"
  assert ntu_classes.NTU120_CLASS_NAMES[119].startswith("finger-guessing")


def test_a_sample_name_labels_its_action():
  # Action ids are 1-based in file names, labels 0-based (NTU's own list:
  # A023 hand waving, A061 put on headphone, A120 rock-paper-scissors).
  for name, action in [("S001C001P001R001A023", "hand waving"),
                       ("S018C001P008R001A061", "put on headphone"),
                       ("S032C003P106R002A120",
                        "finger-guessing game (playing rock-paper-scissors)")]:
    label = ntu.parse_sample_name(name).label
    assert ntu_classes.NTU120_CLASS_NAMES[label] == action, name


def test_the_registry_uses_these_lists():
  assert registry.class_names("ntu60") == ntu_classes.NTU60_CLASS_NAMES
  assert registry.class_names("ntu120") == ntu_classes.NTU120_CLASS_NAMES
