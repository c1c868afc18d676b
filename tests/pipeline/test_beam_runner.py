"""No Beam stage reaches for the network: with every connection refused and recorded, a pipeline on the
arguments the Beam components get runs to the end and nothing was fetched. Beam's DirectRunner, left to
choose, tries to download its Prism runner first: the same check on it records that fetch."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from pipeline.pipeline import pipeline_beam_args


@pytest.fixture
def network_refused(monkeypatch) -> list[str]:
    """Every outbound connection and URL fetch fails at once and is recorded (what a machine without a
    network, or behind a firewall, would do, minus the wait)."""
    attempts: list[str] = []

    def refuse_connection(address, *args, **kwargs):
        attempts.append(f"connect {address}")
        raise OSError("network unreachable (test)")

    def refuse_url(url, *args, **kwargs):
        attempts.append(f"fetch {getattr(url, 'full_url', url)}")
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", refuse_connection)
    monkeypatch.setattr(urllib.request, "urlopen", refuse_url)
    return attempts


def run_small_pipeline(args: list[str]) -> list[int]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    with beam.Pipeline(options=PipelineOptions(args)) as pipeline:
        doubled = pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: 2 * x)
        assert_that(doubled, equal_to([2, 4, 6]))
    return [2, 4, 6]


def test_the_components_beam_arguments_run_with_the_network_unreachable_and_fetch_nothing(network_refused):
    args = pipeline_beam_args(["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    assert run_small_pipeline(args) == [2, 4, 6]
    assert network_refused == []


def test_left_to_choose_the_direct_runner_tries_a_download_first(network_refused):
    """What the check above would catch: the same pipeline on Beam's default runner."""
    run_small_pipeline(["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    # Its Prism runner fetched from GitHub: seen as the URL, or as the connection urllib opens for it.
    assert any("prism" in attempt or "github.com" in attempt for attempt in network_refused), network_refused


def test_tfx_builds_no_source_package_of_itself_for_the_local_runner(tmp_path, monkeypatch):
    """TFX's Beam executors call make_beam_dependency_flags before every Beam stage; left to it, it copies TFX
    into a source package under the temporary folder (1 to 2 s, 52 MB left there each time)."""
    import tempfile

    from tfx.utils import dependency_utils

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    args = pipeline_beam_args(["--direct_num_workers=1"])
    assert dependency_utils.make_beam_dependency_flags(args) == args
    assert list(tmp_path.iterdir()) == []
    # What the check above would catch: without a dependency flag TFX builds its package there.
    assert dependency_utils.make_beam_dependency_flags(["--direct_num_workers=1"])[-1].startswith("--extra_package=")
    assert list(tmp_path.iterdir()) != []
