"""Dataset formats, pose tensors, video, glimpses, TFRecords and pipelines."""
