"""Provisions the Python runtime that every project command runs in.

TFX 1.21's ml-metadata and TFDV wheels need glibc 2.38+ and libstdc++ 13+.
Where the host has them (and Python 3.13, the version the lock is compiled
for) a plain virtual environment is enough. Elsewhere (Debian 12, say) we
build a Debian 13 root filesystem with mmdebstrap, make the venv inside it and
run every command in it with bubblewrap, the repository bound at the same
absolute path so that every path printed is valid outside too.

This module is stdlib-only: it runs on the host's Python before any
dependency exists. Usage:

    python3 -m tooling.runtime setup            # build (or reuse) the runtime
    python3 -m tooling.runtime exec -- CMD ...  # run CMD inside it
    python3 -m tooling.runtime info             # what would be chosen, and why
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO_ROOT / "requirements.lock"

# Bump when the recipe below changes in a way the lock file's hash misses.
RECIPE_VERSION = "2"  # 2: site-packages compiled to bytecode at install
DEBIAN_SUITE = "trixie"
DEBIAN_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-dev",  # pyfarmhash (a TFDV dependency) builds from source on 3.13
    "g++",
    "ca-certificates",
    "chromium",  # headless browser test of the HTML report
    "fonts-dejavu-core",
)
LOCK_PYTHON = (3, 13)  # the Python the lock file is compiled for
MIN_HOST_GLIBC = (2, 39)  # manylinux_2_39 wheels (ml-metadata, TFDV)
MIN_FREE_BYTES = 8 * 1024**3
VENV_IN_ROOTFS = "/opt/venv"
READY_MARKER = "READY"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # the host's, bound into the sandbox

# Variables passed from the host into the sandbox; everything else is cleared
# so that host pip/pyenv settings cannot leak into the runtime.
PASSED_ENV_PREFIXES = ("MHP_", "TF_", "CUDA_", "KFP_", "BEAM_")
PASSED_ENV_NAMES = ("TERM", "CI", "TZ", "COLUMNS", "LINES", "PYTEST_ADDOPTS")


class SetupError(Exception):
    """A prerequisite is missing; the message names the cause and the fix."""


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What the choice of runtime depends on, gathered once."""

    glibc: tuple[int, int] | None
    host_python: str | None  # path of a python3.13 on the host, if any
    is_root: bool
    forced: str | None  # MHP_RUNTIME=venv|rootfs


@dataclasses.dataclass(frozen=True)
class Choice:
    kind: str  # "venv" or "rootfs"
    reason: str


def parse_glibc(text: str | None) -> tuple[int, int] | None:
    """Parses 'glibc 2.36' (os.confstr) into (2, 36)."""
    if not text:
        return None
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def choose_runtime(facts: HostFacts) -> Choice:
    """Picks a plain venv where the host can run the wheels, else a rootfs."""
    if facts.forced not in (None, "", "venv", "rootfs"):
        raise SetupError(
            f"MHP_RUNTIME={facts.forced!r} is not a runtime kind; "
            "use 'venv', 'rootfs' or leave it unset to choose automatically."
        )
    if facts.forced == "rootfs":
        return Choice("rootfs", "forced by MHP_RUNTIME=rootfs")
    host_ok = facts.glibc is not None and facts.glibc >= MIN_HOST_GLIBC
    if facts.forced == "venv":
        if not facts.host_python:
            raise SetupError(
                "MHP_RUNTIME=venv needs python3.13 on PATH (the lock is compiled "
                "for Python 3.13); install it or unset MHP_RUNTIME."
            )
        return Choice("venv", "forced by MHP_RUNTIME=venv")
    glibc = ".".join(map(str, facts.glibc)) if facts.glibc else "unknown"
    need = ".".join(map(str, MIN_HOST_GLIBC))
    if host_ok and facts.host_python:
        return Choice("venv", f"host glibc {glibc} >= {need} and python3.13 found")
    if not host_ok:
        reason = f"host glibc {glibc} < {need} needed by the ml-metadata/TFDV wheels"
    else:
        reason = "no python3.13 on the host (the lock is compiled for 3.13)"
    return Choice("rootfs", reason + f"; using a Debian {DEBIAN_SUITE} root filesystem")


def gather_facts() -> HostFacts:
    try:
        glibc = parse_glibc(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        glibc = None
    return HostFacts(
        glibc=glibc,
        host_python=shutil.which("python3.13"),
        is_root=os.geteuid() == 0,
        forced=os.environ.get("MHP_RUNTIME") or None,
    )


def runtime_key(lock_text: str, kind: str) -> str:
    """Names a runtime by what is inside it: the lock, the recipe and the kind."""
    digest = hashlib.sha256()
    # Comments (the header, the GPU image's `#gpu:` pins) do not change what is installed.
    pins = "\n".join(line for line in lock_text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    for part in (RECIPE_VERSION, kind, DEBIAN_SUITE, " ".join(DEBIAN_PACKAGES), pins):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"{kind}-{digest.hexdigest()[:16]}"


def cache_root() -> Path:
    """Per-user cache outside the repository; MHP_RUNTIME_DIR overrides it."""
    explicit = os.environ.get("MHP_RUNTIME_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "multihead-tfx" / "runtimes"


def locked_version(lock_text: str, package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==([^\s\\]+)", lock_text, re.MULTILINE)
    if not match:
        raise SetupError(f"{package} is not pinned in {LOCK_FILE}; run `make lock`.")
    return match.group(1)


def log(message: str) -> None:
    print(f"[runtime] {message}", file=sys.stderr, flush=True)


class Runtime:
    """One provisioned runtime directory: `<cache>/<key>/` with a READY marker."""

    def __init__(self, choice: Choice, facts: HostFacts, root: Path | None = None):
        self.choice = choice
        self.facts = facts
        self.lock_text = LOCK_FILE.read_text()
        self.key = runtime_key(self.lock_text, choice.kind)
        self.cache = root or cache_root()
        self.path = self.cache / self.key

    # ---- layout -------------------------------------------------------
    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def venv_bin(self) -> str:
        """The venv's bin directory as seen by commands run in the runtime."""
        if self.choice.kind == "rootfs":
            return f"{VENV_IN_ROOTFS}/bin"
        return str(self.path / "venv" / "bin")

    def is_ready(self) -> bool:
        return (self.path / READY_MARKER).is_file()

    # ---- provisioning -------------------------------------------------
    def ensure(self, announce: bool = True) -> None:
        """Builds the runtime unless a complete one exists; says which in one line."""
        if self.is_ready():
            if announce:
                log(f"ready ({self.choice.kind}, {self.path}); nothing to provision")
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        with open(self.cache / ".lock", "w") as lock_handle:
            fcntl.flock(lock_handle, fcntl.LOCK_EX)
            if self.is_ready():  # another process finished it while we waited
                log(f"ready ({self.choice.kind}, {self.path}); built by another process")
                return
            self._build()

    def _build(self) -> None:
        started = time.monotonic()
        if self.path.exists():
            log(f"found a half-built runtime at {self.path} (no {READY_MARKER}); removing it")
            shutil.rmtree(self.path)
        self._check_disk()
        log(f"building a {self.choice.kind} runtime at {self.path} ({self.choice.reason})")
        self.path.mkdir(parents=True)
        if self.choice.kind == "rootfs":
            self._build_rootfs()
        else:
            self._build_host_venv()
        seconds = time.monotonic() - started
        (self.path / READY_MARKER).write_text(f"kind={self.choice.kind}\nkey={self.key}\nbuilt_in_s={seconds:.0f}\n")
        log(f"runtime built in {seconds:.0f} s")

    def _check_disk(self) -> None:
        free = shutil.disk_usage(self.cache).free
        if free < MIN_FREE_BYTES:
            raise SetupError(
                f"only {free / 1024**3:.1f} GiB free under {self.cache}; the runtime needs "
                f"about {MIN_FREE_BYTES / 1024**3:.0f} GiB. Free some space (`python3 -m tooling.runtime prune` "
                "deletes the runtimes built for older lock files or recipes, and uv's cache) or point "
                "MHP_RUNTIME_DIR at a larger disk."
            )

    def _build_rootfs(self) -> None:
        ensure_host_tools(self.facts)
        mirror = os.environ.get("MHP_DEBIAN_MIRROR", "http://deb.debian.org/debian")
        tarball = self.path / "rootfs.tar"
        mode = "root" if self.facts.is_root else "unshare"
        run_step(
            "create the Debian root filesystem",
            [
                "mmdebstrap",
                f"--mode={mode}",
                "--variant=minbase",
                "--quiet",
                "--include=" + ",".join(DEBIAN_PACKAGES),
                DEBIAN_SUITE,
                str(tarball),
                mirror,
            ],
            fix="check that the Debian mirror is reachable (MHP_DEBIAN_MIRROR overrides it)",
        )
        self.rootfs.mkdir()
        run_step(
            "unpack the root filesystem",
            ["tar", "-x", "-f", str(tarball), "-C", str(self.rootfs), "--exclude=./dev/*"],
        )
        tarball.unlink()
        self._install_lock(python="/usr/bin/python3")

    def _build_host_venv(self) -> None:
        assert self.facts.host_python
        ensure_host_browser(self.facts)
        self._install_lock(python=self.facts.host_python)

    def _install_lock(self, python: str) -> None:
        venv = VENV_IN_ROOTFS if self.choice.kind == "rootfs" else str(self.path / "venv")
        uv_version = locked_version(self.lock_text, "uv")
        fix = "check access to the Python package index (proxy, certificates)"
        self.run_inside([python, "-m", "venv", venv], step="create the virtual environment", fix=fix)
        self.run_inside(
            [f"{venv}/bin/python", "-m", "pip", "install", "--quiet", f"uv=={uv_version}"],
            step="install uv",
            fix=fix,
        )
        self.run_inside(
            [
                f"{venv}/bin/uv",
                "pip",
                "install",
                "--python",
                f"{venv}/bin/python",
                "--require-hashes",
                # Bytecode at install: the runtime is read as is (PYTHONDONTWRITEBYTECODE), so without it
                # every process compiles TensorFlow's and TFX's sources again (about 10 s a start).
                "--compile-bytecode",
                "-r",
                str(LOCK_FILE),
            ],
            step="install the locked dependencies",
            fix=fix,
        )

    def prune(self) -> list[str]:
        """Deletes the other runtimes under the cache (built for other locks) and uv's cache."""
        removed = []
        if not self.cache.is_dir():
            return removed
        for entry in sorted(self.cache.iterdir()):
            if entry.is_dir() and entry != self.path and entry.name.startswith(("rootfs-", "venv-", "uv-cache")):
                shutil.rmtree(entry)
                removed.append(entry.name)
        return removed

    # ---- running ------------------------------------------------------
    def command(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """The host command line and environment that run argv in the runtime."""
        env = sandbox_env(os.environ, self.venv_bin, home=str(Path.home()))
        env["MHP_RUNTIME_KIND"] = self.choice.kind
        env["UV_CACHE_DIR"] = str(self.cache / "uv-cache")
        if self.choice.kind == "venv":
            return argv, env
        return bwrap_argv(self.rootfs, env, argv, binds=self.binds()), env

    def binds(self) -> list[str]:
        """Host paths visible in the sandbox, each at its own absolute path."""
        paths = [str(REPO_ROOT), str(self.cache / "uv-cache"), str(Path.home())]
        paths += [p for p in os.environ.get("MHP_EXTRA_BINDS", "").split(":") if p]
        (self.cache / "uv-cache").mkdir(parents=True, exist_ok=True)
        return list(dict.fromkeys(paths))

    def run_inside(self, argv: list[str], step: str, fix: str = "") -> None:
        cmd, env = self.command(argv)
        run_step(step, cmd, env=env, fix=fix)

    def exec(self, argv: list[str]) -> int:
        cmd, env = self.command(argv)
        return subprocess.call(cmd, env=env, cwd=os.getcwd())


def sandbox_env(host_env: dict[str, str] | os._Environ, venv_bin: str, home: str) -> dict[str, str]:
    """A clean environment: the venv first on PATH, a few host variables kept."""
    env = {
        name: value
        for name, value in host_env.items()
        if name in PASSED_ENV_NAMES or name.startswith(PASSED_ENV_PREFIXES)
    }
    env.update(
        PATH=f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        HOME=home,
        LANG="C.UTF-8",
        VIRTUAL_ENV=str(Path(venv_bin).parent),
        SSL_CERT_FILE=CA_BUNDLE,
        PIP_CERT=CA_BUNDLE,
        REQUESTS_CA_BUNDLE=CA_BUNDLE,
        UV_NATIVE_TLS="1",
        PYTHONPATH=str(REPO_ROOT),
        PYTHONDONTWRITEBYTECODE="1",
        # tensorflow_transform sets this at import; set it for the whole process so
        # tf.keras is tf_keras (Keras 2) everywhere, as in the container image.
        TF_USE_LEGACY_KERAS="1",
        TF_CPP_MIN_LOG_LEVEL=host_env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    )
    return env


def bwrap_argv(rootfs: Path, env: dict[str, str], argv: list[str], binds: list[str]) -> list[str]:
    """bubblewrap command line: rootfs as /, host paths bound where they are."""
    cmd = [
        "bwrap",
        "--bind",
        str(rootfs),
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--bind",
        "/tmp",
        "/tmp",
        "--tmpfs",
        "/dev/shm",
        "--ro-bind",
        "/etc/resolv.conf",
        "/etc/resolv.conf",
        # The host's names: Beam's portable workers are given socket.getfqdn() as their address.
        "--ro-bind",
        "/etc/hosts",
        "/etc/hosts",
        "--ro-bind",
        "/etc/ssl/certs",
        "/etc/ssl/certs",
        "--unshare-pid",
        "--die-with-parent",
        "--clearenv",
    ]
    if os.geteuid() != 0:
        cmd += ["--unshare-user", "--uid", str(os.geteuid()), "--gid", str(os.getegid())]
    for path in binds:
        if os.path.exists(path):
            cmd += ["--bind", path, path]
    for name, value in env.items():
        cmd += ["--setenv", name, value]
    cmd += ["--chdir", os.getcwd(), "--", *argv]
    return cmd


def ensure_host_tools(facts: HostFacts) -> None:
    """mmdebstrap and bubblewrap: installed with apt when we may, else a clear stop."""
    missing = [tool for tool in ("mmdebstrap", "bwrap") if not shutil.which(tool)]
    if not missing:
        return
    packages = ["mmdebstrap" if t == "mmdebstrap" else "bubblewrap" for t in missing]
    if facts.is_root and shutil.which("apt-get"):
        log(f"installing {' '.join(packages)} with apt-get")
        run_step("apt-get update", ["apt-get", "update", "-qq"], fix="check access to the Debian package mirror")
        run_step(
            f"install {' '.join(packages)}",
            ["apt-get", "install", "-y", "-qq", *packages],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return
    if not shutil.which("apt-get"):
        raise SetupError(
            f"{', '.join(missing)} not found and there is no apt-get to install them. "
            "Run on a host with glibc 2.39+ and python3.13 (a plain venv is then used), "
            "or install mmdebstrap and bubblewrap with your package manager."
        )
    if not user_namespaces_available():
        raise SetupError(
            "not root and user namespaces are disabled, so no root filesystem can be "
            "built or entered. Fix: run as root, or enable user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1), or use a host with glibc 2.39+."
        )
    raise SetupError(f"{', '.join(missing)} not found. Fix: sudo apt-get install {' '.join(packages)}")


def ensure_host_browser(facts: HostFacts) -> None:
    """The report's browser test drives Debian's chromium; install it on a venv host."""
    if shutil.which("chromium"):
        return
    if facts.is_root and shutil.which("apt-get"):
        run_step("apt-get update", ["apt-get", "update", "-qq"], fix="check access to the Debian package mirror")
        run_step(
            "install chromium",
            ["apt-get", "install", "-y", "-qq", "chromium", "fonts-dejavu-core"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return
    raise SetupError(
        "chromium is not installed and this user cannot install it; the report's browser test needs it. "
        "Fix: sudo apt-get install chromium fonts-dejavu-core (or MHP_RUNTIME=rootfs to use the root filesystem)."
    )


def user_namespaces_available() -> bool:
    try:
        return subprocess.call(["unshare", "--user", "true"], stderr=subprocess.DEVNULL) == 0
    except OSError:
        return False


def run_step(step: str, cmd: list[str], env: dict[str, str] | None = None, fix: str = "") -> None:
    """Runs one provisioning step; on failure stops with the step, the tail and the fix."""
    log(f"{step} ...")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        hint = f"\nFix: {fix}." if fix else ""
        raise SetupError(f"could not {step} (exit {proc.returncode}):\n{tail}{hint}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tooling.runtime",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("setup", help="build the runtime unless a complete one exists")
    sub.add_parser("info", help="print the runtime choice and its reason")
    sub.add_parser("prune", help="delete every runtime but the current one (old locks) and uv's cache")
    run = sub.add_parser("exec", help="run a command inside the runtime")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        facts = gather_facts()
        choice = choose_runtime(facts)
        runtime = Runtime(choice, facts)
        if args.action == "prune":
            removed = runtime.prune()
            log(f"removed {len(removed)} old runtime(s): {', '.join(removed) or 'none'}")
            return 0
        if args.action == "info":
            print(f"kind={choice.kind}\nreason={choice.reason}\npath={runtime.path}\nready={runtime.is_ready()}")
            return 0
        runtime.ensure(announce=args.action == "setup")
        if args.action == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            if not cmd:
                parser.error("exec needs a command, e.g. exec -- python -V")
            return runtime.exec(cmd)
        return 0
    except SetupError as err:
        log(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        log("interrupted; a half-built runtime is detected and rebuilt on the next run")
        return 130


if __name__ == "__main__":
    sys.exit(main())
