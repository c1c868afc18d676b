"""The runtime choice, its key, half-built detection and the sandbox setup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tooling import runtime
from tooling.runtime import Choice, HostFacts, Runtime, SetupError, choose_runtime


def facts(glibc=(2, 36), python="/usr/bin/python3.13", root=True, forced=None) -> HostFacts:
    return HostFacts(glibc=glibc, host_python=python, is_root=root, forced=forced)


@pytest.mark.parametrize(
    ("host", "kind", "reason_part"),
    [
        (facts(glibc=(2, 36)), "rootfs", "glibc 2.36 < 2.39"),  # Debian 12
        (facts(glibc=(2, 39)), "venv", "2.39 >= 2.39"),  # Ubuntu 24.04
        (facts(glibc=(2, 41)), "venv", "2.41 >= 2.39"),  # Debian 13
        (facts(glibc=(2, 41), python=None), "rootfs", "no python3.13"),
        (facts(glibc=None), "rootfs", "glibc unknown"),  # musl, say
        (facts(glibc=(2, 41), forced="rootfs"), "rootfs", "forced"),
        (facts(glibc=(2, 36), forced="venv"), "venv", "forced"),
    ],
)
def test_choose_runtime(host, kind, reason_part):
    choice = choose_runtime(host)
    assert choice.kind == kind
    assert reason_part in choice.reason


def test_forced_venv_without_python_is_a_clear_error():
    with pytest.raises(SetupError, match=r"python3\.13"):
        choose_runtime(facts(forced="venv", python=None))


def test_unknown_forced_kind_is_rejected():
    with pytest.raises(SetupError, match="'docker' is not a runtime kind"):
        choose_runtime(facts(forced="docker"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("glibc 2.36", (2, 36)), ("glibc 2.41", (2, 41)), ("", None), (None, None), ("musl", None)],
)
def test_parse_glibc(text, expected):
    assert runtime.parse_glibc(text) == expected


def test_key_follows_the_lock_and_the_kind():
    base = runtime.runtime_key("tfx==1.21.0\n", "rootfs")
    assert base == runtime.runtime_key("tfx==1.21.0\n", "rootfs")
    assert base != runtime.runtime_key("tfx==1.21.1\n", "rootfs")
    assert base != runtime.runtime_key("tfx==1.21.0\n", "venv")
    assert base.startswith("rootfs-")
    # Comments, such as the GPU image's `#gpu:` pins, install nothing here.
    assert base == runtime.runtime_key("# header\ntfx==1.21.0\n\n#gpu: nvidia-nccl-cu12==2.32.3\n", "rootfs")


def test_locked_version_reads_the_pin_and_names_a_missing_one():
    lock = "absl-py==1.4.0 \\\n    --hash=sha256:00\nuv==0.13.9 \\\n"
    assert runtime.locked_version(lock, "uv") == "0.13.9"
    with pytest.raises(SetupError, match="ruff is not pinned"):
        runtime.locked_version(lock, "ruff")


class RecordingRuntime(Runtime):
    """Replaces only the expensive build steps, to test what surrounds them."""

    builds = 0

    def _build_rootfs(self) -> None:
        type(self).builds += 1
        (self.path / "rootfs").mkdir()

    _build_host_venv = _build_rootfs


def test_half_built_runtime_is_removed_and_rebuilt(tmp_path, capsys):
    rt = RecordingRuntime(Choice("rootfs", "test"), facts(), root=tmp_path)
    rt.path.mkdir(parents=True)
    (rt.path / "leftover").write_text("from a killed setup")
    RecordingRuntime.builds = 0
    rt.ensure()
    assert rt.is_ready()
    assert not (rt.path / "leftover").exists()
    assert "half-built" in capsys.readouterr().err
    rt.ensure()  # second time: nothing to do, said in one line
    assert RecordingRuntime.builds == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "nothing to provision" in lines[0]


def test_too_little_disk_stops_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "MIN_FREE_BYTES", 1 << 60)
    rt = RecordingRuntime(Choice("rootfs", "test"), facts(), root=tmp_path)
    with pytest.raises(SetupError, match="MHP_RUNTIME_DIR"):
        rt.ensure()
    assert not rt.is_ready()


def test_missing_tools_without_apt_names_the_fix(monkeypatch):
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    with pytest.raises(SetupError, match=r"mmdebstrap, bwrap not found.*no apt-get"):
        runtime.ensure_host_tools(facts(root=False))


def test_missing_tools_without_user_namespaces_names_the_fix(monkeypatch):
    monkeypatch.setattr(runtime.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(runtime, "user_namespaces_available", lambda: False)
    with pytest.raises(SetupError, match="user namespaces are disabled"):
        runtime.ensure_host_tools(facts(root=False))


def test_sandbox_env_drops_host_settings_and_keeps_project_ones():
    host = {"PIP_FIND_LINKS": "/opt/wheels", "PYTHONHOME": "/x", "MHP_DATA": "d", "CI": "true"}
    env = runtime.sandbox_env(host, "/opt/venv/bin", home="/root")
    assert "PIP_FIND_LINKS" not in env and "PYTHONHOME" not in env
    assert env["MHP_DATA"] == "d" and env["CI"] == "true"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["PYTHONPATH"] == str(runtime.REPO_ROOT)
    assert env["TF_USE_LEGACY_KERAS"] == "1"


def test_bwrap_binds_the_repository_at_its_own_path(tmp_path):
    argv = runtime.bwrap_argv(tmp_path, {"A": "1"}, ["python", "-V"], binds=[str(runtime.REPO_ROOT)])
    joined = " ".join(argv)
    assert f"--bind {tmp_path} /" in joined
    assert f"--bind {runtime.REPO_ROOT} {runtime.REPO_ROOT}" in joined
    assert "--clearenv" in argv and "--setenv A 1" in joined
    assert argv[-3:] == ["--", "python", "-V"]


def test_this_suite_runs_inside_the_provisioned_runtime():
    """The suite is started through the runtime; the stack it pins is what imports."""
    import ml_metadata
    import tfx

    assert os.environ.get("MHP_RUNTIME_KIND") in ("venv", "rootfs")
    assert tfx.__version__ == "1.21.0"
    assert ml_metadata.__version__ == "1.21.0"
    assert Path(os.environ["VIRTUAL_ENV"]).is_dir()


def test_prune_keeps_only_the_current_runtime(tmp_path):
    rt = RecordingRuntime(Choice("rootfs", "test"), facts(), root=tmp_path)
    rt.ensure()
    for old in ("rootfs-0123456789abcdef", "venv-fedcba9876543210", "uv-cache"):
        (tmp_path / old).mkdir()
    (tmp_path / "notes").mkdir()  # not ours: left alone
    assert sorted(rt.prune()) == ["rootfs-0123456789abcdef", "uv-cache", "venv-fedcba9876543210"]
    assert rt.is_ready()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted([rt.path.name, "notes"])
