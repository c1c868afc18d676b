"""Converters that turn public example data into TFRecord spans."""
