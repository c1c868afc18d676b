"""The local path the Kubeflow Pipelines v2 launcher gives an artifact on object storage, and back.

The launcher downloads each input artifact to, and uploads each output from,
a path made from its URI (kubeflow/pipelines backend/src/v2/component/
launcher_v2.go, LocalPathForURI): `gs://b/k` -> `/gcs/b/k`, `minio://b/k` ->
`/minio/b/k`, `s3://b/k` -> `/s3/b/k`. Tasks work on those paths (see
orchestration/kfp_entrypoint.py); what they record names the URI again.
Stdlib only: the host-side `make kfp-check` uses it too.
"""

from __future__ import annotations

LAUNCHER_LOCAL_ROOTS = {"gs://": "/gcs/", "minio://": "/minio/", "s3://": "/s3/"}


def launcher_local_path(uri: str) -> str | None:
    """The launcher's local path for an object-storage URI; None for any other URI (a local path)."""
    for scheme, root in LAUNCHER_LOCAL_ROOTS.items():
        if uri.startswith(scheme):
            return root + uri[len(scheme) :]
    return None


def launcher_remote_uri(path: str) -> str | None:
    """The URI a launcher's local path stands for; None for any other path."""
    for scheme, root in LAUNCHER_LOCAL_ROOTS.items():
        if path.startswith(root):
            return scheme + path[len(root) :]
    return None
