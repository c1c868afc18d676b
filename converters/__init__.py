"""Data set converters: source data -> span folders of gzipped TFRecords."""
