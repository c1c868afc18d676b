"""Running the pipeline: the local runner, Kubeflow compile and submit, serving versions, calibration."""
