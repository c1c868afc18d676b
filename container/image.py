"""Builds the pipeline's container image here with podman (`make image`).

    python3 -m container.image [--target cpu] [--tag localhost/multihead-tfx:local] [--base IMAGE]

No Docker engine runs on these hosts and Docker Hub is out of reach, so:
podman and runc are installed with apt when missing (as root), podman reads
the repository's container/containers.conf through CONTAINERS_CONF (runc,
ulimits within the host's hard limits; nothing under /etc is edited), and the
Dockerfile's BASE_IMAGE is a Debian 13 base made with mmdebstrap and
imported, unless `--base` names another. The host's CA bundle is mounted over
the image's during the build, for hosts behind a TLS-intercepting proxy; it
is not part of the image.

Stdlib only: it runs on the host's Python, where podman is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from trainer.code_version import git_describe

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = REPO_ROOT / "container" / "containers.conf"
DEFAULT_TAG = "localhost/multihead-tfx:local"
BASE_TAG = "localhost/multihead-tfx-base:trixie"
BASE_PACKAGES = ("python3", "python3-venv", "python3-dev", "g++", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class ImageError(Exception):
    """A step failed; the message says which, what it printed and how to fix it."""


def log(message: str) -> None:
    print(f"[image] {message}", file=sys.stderr, flush=True)


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(step: str, cmd: list[str], fix: str, quiet: bool = True) -> str:
    """Runs one step; on failure raises ImageError with the step, the output's tail and the fix."""
    log(f"{step} ...")
    proc = subprocess.run(cmd, env=podman_env(), capture_output=quiet, text=True)
    if proc.returncode != 0:
        tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).strip().splitlines()[-15:])
        raise ImageError(f"could not {step} (exit {proc.returncode}):\n{tail}\nFix: {fix}.")
    return proc.stdout or ""


def ensure_podman() -> None:
    """podman and runc, installed with apt-get when missing and allowed; then a smoke test."""
    missing = [tool for tool in ("podman", "runc") if not shutil.which(tool)]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise ImageError(
                f"{' and '.join(missing)} not found. Fix: install them (Debian: sudo apt-get install podman runc), "
                "or build the Dockerfile with docker on another machine."
            )
        run("apt-get update", ["apt-get", "update", "-qq"], "check access to the Debian package mirror")
        run(
            f"install {' '.join(missing)}",
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "podman", "runc"],
            "check access to the Debian package mirror",
        )
    run(
        "check that podman can run a container on this host",
        ["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"],
        "this host cannot run podman (see the output above); container/containers.conf holds the settings "
        "these hosts need (runc, ulimits)",
    )


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag], env=podman_env()).returncode == 0


def ensure_base(tag: str = BASE_TAG) -> str:
    """A Debian 13 base with Python 3.13 and g++, made with mmdebstrap and imported once."""
    if image_exists(tag):
        return tag
    if not shutil.which("mmdebstrap"):
        raise ImageError("mmdebstrap not found. Fix: apt-get install mmdebstrap, or pass --base IMAGE")
    mirror = os.environ.get("MHP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(prefix="mhp-base-") as tmp:
        tarball = Path(tmp) / "base.tar"
        run(
            "create the Debian 13 base (mmdebstrap)",
            [
                "mmdebstrap",
                "--mode=root" if os.geteuid() == 0 else "--mode=unshare",
                "--variant=minbase",
                "--quiet",
                "--include=" + ",".join(BASE_PACKAGES),
                "trixie",
                str(tarball),
                mirror,
            ],
            "check that the Debian mirror is reachable (MHP_DEBIAN_MIRROR overrides it)",
        )
        run("import the base into podman", ["podman", "import", str(tarball), tag], "see podman's message")
    return tag


def build(target: str, tag: str, base: str) -> None:
    cmd = ["podman", "build", "--target", target, "--build-arg", f"BASE_IMAGE={base}", "-t", tag]
    cmd += ["--build-arg", f"CODE_VERSION={git_describe(REPO_ROOT) or ''}"]
    if HOST_CA_BUNDLE.exists():
        cmd += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    cmd += ["-f", str(REPO_ROOT / "Dockerfile"), str(REPO_ROOT)]
    run(
        f"build the {target} image {tag} from {base}",
        cmd,
        "read podman's output above; the Dockerfile's steps are the same as tooling/runtime.py's",
        quiet=False,
    )


def check_gpu_image(tag: str) -> None:
    """TensorFlow in the image is a CUDA build and its CUDA libraries load (container/gpu_check.py)."""
    run(
        f"check the CUDA build in {tag}",
        ["podman", "run", "--rm", "--network=none", tag, "python", "-m", "container.gpu_check"],
        "the image's TensorFlow is not a CUDA build, or a CUDA wheel of the lock's `#gpu:` lines is missing",
        quiet=False,
    )
    size = run("measure the image", ["podman", "image", "inspect", "--format", "{{.Size}}", tag], "see podman")
    log(f"{tag}: {int(size.strip()) / 1e9:.2f} GB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--base", help="BASE_IMAGE (default: a Debian 13 base built here with mmdebstrap)")
    args = parser.parse_args(argv)
    try:
        ensure_podman()
        base = args.base or ensure_base()
        build(args.target, args.tag, base)
        if args.target == "gpu":
            check_gpu_image(args.tag)
    except ImageError as err:
        log(f"error: {err}")
        return 2
    log(f"built {args.tag} (target {args.target}, base {base})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
