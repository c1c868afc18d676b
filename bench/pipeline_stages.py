"""Where the pipeline's time goes: every stage against its limit, measured side by side in one run.

    python -m bench.pipeline_stages [--config configs/flights.yaml] [--modes multi_processing in_memory default]
                                    [--scales 1 2 4] [--full-year] [--write]

Each measurement is the main job itself (`python -m orchestration.run_local`, a
child process, on a fresh output root) with one setting changed, on the same
span files; per-component times come from ML Metadata (an execution's
creation to its last update), peak memory from the child's resource usage.

- modes: the pipeline under each Beam DirectRunner mode (`beam_args`
  replaced): per component wall time and rows/s; the first mode's run is
  then rerun unchanged (the cached rerun), then retrained with
  `trainer.seed` + 1 on the same root (the Evaluator with a baseline, against
  the Trainer of the same run), and its Evaluator is compared with
  `model.predict` on the same span (Evaluator efficiency).
- start-up share: the same pipeline on the committed fixture (about 270
  rows a span): a component's time there is nearly all fixed cost, so
  fixture time / full time is the share of start-up (process, imports,
  graph tracing) in the full run.
- orchestration: (pipeline wall time - sum of executor times) / wall time.
- scales: the training window replicated k times (the span files linked k
  times into a new data root), and with `--full-year` spans 1-11 -> 12.

With `--write` the tables replace the harness's section in bench/RESULTS.md,
headed with the machine and the commit. No thresholds here: the figures are
read against the targets in the issue and the README.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from contracts.spans import Window, list_spans, resolve_window, span_folder
from orchestration.progress import COMPLETE
from pipeline.config import DEFAULT_CONFIG, REPO_ROOT, load_config

# The first is the shipped setting (configs/flights.yaml), the base of the rerun, start-up and scale
# runs. On the DirectRunner the Evaluator always runs in one process (pipeline/pipeline.py).
MODES = {
    "multi_processing": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    "in_memory": ["--direct_running_mode=in_memory"],
    "default": ["--direct_num_workers=2"],  # Beam's own choice of mode (Prism where it can start)
}
BEAM_STAGES = ("ImportExampleGen", "StatisticsGen", "Transform", "Evaluator")
RETRAIN = "retrain (trainer.seed + 1)"
SECTION_START, SECTION_END = "<!-- bench.pipeline_stages: start -->", "<!-- bench.pipeline_stages: end -->"
FIXTURE_ROOT = REPO_ROOT / "tests" / "fixtures" / "flights"


class MainJobError(RuntimeError):
    """One measured run of the main job failed; the others are still measured."""


@dataclasses.dataclass
class Measured:
    """One run of the main job."""

    label: str
    wall: float  # the command, start to exit
    pipeline: float | None  # LocalDagRunner's own time, as the command printed it
    components: dict[str, float]  # executed (not cached) components: seconds
    cached: list[str]
    peak_rss_mib: float
    verdict: str
    rows: dict[str, int]  # "train", "eval"
    measured_at: str = ""  # "<date>, commit <commit>": a section may gather measurements of several bench runs

    def rows_per_second(self, component: str, split: str) -> float | None:
        seconds_taken = self.components.get(component)
        return self.rows.get(split, 0) / seconds_taken if seconds_taken else None

    @property
    def orchestration_share(self) -> float | None:
        if not self.pipeline:
            return None
        return max(0.0, self.pipeline - sum(self.components.values())) / self.pipeline


# Runs a command and writes the peak resident memory of its largest process (KiB) to a file: the
# kernel's figure for the waited-for children of a fresh process, so one run's peak, not the session's.
_PEAK_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)


def run_main_job(config_file: Path, output_root: Path, label: str) -> Measured:
    """`python -m orchestration.run_local` in a child process; what ML Metadata and the kernel say about it."""
    peak_file = output_root.parent / f"{output_root.name}.peak-kib"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _PEAK_WRAPPER,
            str(peak_file),
            sys.executable,
            "-m",
            "orchestration.run_local",
            "--config",
            str(config_file),
            "--output-root",
            str(output_root),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise MainJobError(f"{label}: the main job exited with {done.returncode}: " + " / ".join(tail))
    pipeline = re.search(r"Pipeline \S+ finished in (\d+) s", done.stdout)
    verdict = re.search(r"Verdict: (\w+)", done.stdout)
    components, cached = component_times(output_root)
    config = load_config(config_file, {"output_root": str(output_root)})
    return Measured(
        label=label,
        wall=wall,
        pipeline=float(pipeline.group(1)) if pipeline else None,
        components=components,
        cached=cached,
        peak_rss_mib=int(peak_file.read_text()) / 1024,
        verdict=verdict.group(1) if verdict else "?",
        rows=window_rows(config, done.stdout + done.stderr),
        measured_at=f"{time.strftime('%Y-%m-%d')}, commit {commit()}",
    )


def component_times(output_root: Path) -> tuple[dict[str, float], list[str]]:
    """The newest run's executions: seconds of each executed component, and the names of the cached ones."""
    from orchestration.progress import CACHED, steps_since
    from results.metadata import open_store

    store = open_store(output_root / "metadata.sqlite")
    runs = store.get_contexts_by_type("pipeline_run")
    newest = max(runs, key=lambda c: c.create_time_since_epoch)
    pipeline_name = store.get_contexts_by_type("pipeline")[0].name
    steps = steps_since(store, pipeline_name, newest.create_time_since_epoch / 1000 - 1, {})
    times = {s.node: s.seconds for s in steps if s.state == COMPLETE}
    return times, [s.node for s in steps if s.state == CACHED]


def window_rows(config, stdout: str) -> dict[str, int]:
    """Rows of the training window and of the evaluation span, counted from the span files."""
    import tensorflow as tf

    match = re.search(r"Spans: train on spans? ([\d, ]+); evaluate on span (\d+)", stdout)
    if not match:
        return {}
    train = [int(s) for s in match.group(1).split(",")]

    def count(span: int) -> int:
        folder = Path(config.data.root) / span_folder(config.data.span_dir, span)
        files = sorted(str(f) for f in folder.iterdir())
        return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))

    return {"train": sum(count(s) for s in train), "eval": count(int(match.group(2)))}


def derived_config(base: Path, work: Path, name: str, **changes) -> Path:
    """A copy of the config file with top-level keys or `data` keys replaced."""
    raw = yaml.safe_load(base.read_text())
    data = changes.pop("data", None)
    raw.update(changes)
    if data:
        raw["data"] = {**raw["data"], **data}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def replicated_root(config, work: Path, factor: int) -> Path:
    """A data root whose training spans hold each training file `factor` times (links, no copies)."""
    root = work / f"data-x{factor}"
    window = default_window(config)
    evaluate, train = window.evaluate, window.train
    for span in [*train, evaluate]:
        source = Path(config.data.root) / span_folder(config.data.span_dir, span)
        target = root / span_folder(config.data.span_dir, span)
        target.mkdir(parents=True, exist_ok=True)
        copies = factor if span != evaluate else 1
        for copy in range(copies):
            for file in sorted(source.iterdir()):
                link = target / f"copy{copy}-{file.name}"
                if not link.exists():
                    link.symlink_to(file)
    return root


def predict_rows_per_second(model_dir: str, eval_files: list[str]) -> float:
    """The serving signature on the evaluation span, batches of 1,024 raw examples (the best of two passes)."""
    import tensorflow as tf

    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    best = 0.0
    for _ in range(2):
        started, rows = time.monotonic(), 0
        for batch in tf.data.TFRecordDataset(eval_files, compression_type="GZIP").batch(1024):
            serve(examples=batch)
            rows += int(batch.shape[0])
        best = max(best, rows / (time.monotonic() - started))
    return best


def newest_model_and_eval_files(output_root: Path, config) -> tuple[str, list[str]]:
    from results.outcome import latest_run

    artifacts = latest_run(str(output_root / "metadata.sqlite"), config.name)
    eval_span = Path(config.data.root) / span_folder(config.data.span_dir, default_window(config).evaluate)
    return str(Path(artifacts.model) / "Format-Serving"), sorted(str(f) for f in eval_span.iterdir())


def default_window(config) -> Window:
    """The window the main job resolves from the config's data root (contracts/spans.py)."""
    return resolve_window(list_spans(config.data.root, config.data.span_dir), config.data.window_size)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.platform()}, Python {platform.python_version()}"
    )


def commit() -> str:
    """The checked-out commit, from git, or from .git's files where git is not installed (the runtime)."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True)
        return done.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        git = REPO_ROOT / ".git"
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            if (git / ref).exists():
                return (git / ref).read_text().strip()[:7]
            packed = (git / "packed-refs").read_text() if (git / "packed-refs").exists() else ""
            return next((line.split()[0][:7] for line in packed.splitlines() if line.endswith(" " + ref)), "unknown")
        return head[:7]


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def component_table(runs: list[Measured], startup: Measured | None) -> list[str]:
    names = [n for n in runs[0].components if n in BEAM_STAGES or n in ("Trainer", "HeadGate", "PerHeadReport")]
    header = "| component | " + " | ".join(f"{r.label} s" for r in runs) + " | rows/s (" + runs[0].label + ") |"
    if startup:
        header += " start-up share |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name in names:
        # rows each stage reads: every split for the first three, the evaluation span for the Evaluator;
        # the Trainer runs a fixed number of steps and the others a fixed amount of work: no rate
        rows = {
            "ImportExampleGen": runs[0].rows.get("train", 0) + runs[0].rows.get("eval", 0),
            "StatisticsGen": runs[0].rows.get("train", 0) + runs[0].rows.get("eval", 0),
            "Transform": runs[0].rows.get("train", 0) + runs[0].rows.get("eval", 0),
            "Evaluator": runs[0].rows.get("eval", 0),
        }.get(name, 0)
        first = runs[0].components.get(name)
        cells = " | ".join(seconds(r.components.get(name)) for r in runs)
        rate = f"{rows / first:,.0f}" if first and rows else "-"
        line = f"| {name} | {cells} | {rate} |"
        if startup:
            fixed = startup.components.get(name)
            line += f" {fixed / first:.0%} |" if fixed and first else " - |"
        lines.append(line)
    lines.append(
        "| **pipeline (LocalDagRunner)** | "
        + " | ".join(seconds(r.pipeline) for r in runs)
        + " | | "
        + ("|" if startup else "")
    )
    lines.append(
        "| **main job, wall** | " + " | ".join(seconds(r.wall) for r in runs) + " | | " + ("|" if startup else "")
    )
    lines.append(
        "| orchestration share | "
        + " | ".join(f"{r.orchestration_share:.0%}" if r.orchestration_share is not None else "-" for r in runs)
        + " | | "
        + ("|" if startup else "")
    )
    lines.append(
        "| peak RSS of a process, MiB | "
        + " | ".join(f"{r.peak_rss_mib:,.0f}" for r in runs)
        + " | | "
        + ("|" if startup else "")
    )
    return lines


@dataclasses.dataclass
class Results:
    """What one bench run measured so far: written out after every measurement, so a run cut short keeps it."""

    config_file: Path
    runs: list[Measured] = dataclasses.field(default_factory=list)  # one per Beam mode
    rerun: Measured | None = None
    retrain: Measured | None = None  # the first mode's root again with trainer.seed + 1: evaluated with a baseline
    predict_rows_per_s: float | None = None
    startup: Measured | None = None
    scaled: list[Measured] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)

    def section(self) -> str:
        first, rerun = self.runs[0], self.rerun
        shown = self.config_file.resolve()
        shown = shown.relative_to(REPO_ROOT) if shown.is_relative_to(REPO_ROOT) else shown
        every = [*self.runs, *self.extra_runs(), *self.scaled]
        when = sorted({m.measured_at for m in every})
        lines = [
            SECTION_START,
            f"## Pipeline stages (`make bench`, {'; '.join(when)})",
            "",
            f"Machine: {machine()}. Config: `{shown}`;"
            f" training window {first.rows.get('train', 0):,} rows, evaluation span {first.rows.get('eval', 0):,} rows."
            " Each column is the main job on a fresh output root, in this order, one at a time.",
            "",
            *component_table(self.runs, self.startup),
            "",
            "A component's time is its ML Metadata execution, created to last updated (TFX's driver and"
            " publisher included); the orchestration share is the rest of the pipeline's time (the gaps"
            " between executions); the main job's wall time adds the process start, imports and reading"
            " the verdict back. The start-up share is the same component's time on the committed fixture"
            " (about 270 rows a span) over its time here: the part that does not grow with the rows."
            " The Trainer runs a fixed number of steps, so its time is all fixed by construction.",
        ]
        if rerun:
            executed = ", ".join(f"{k} {v:.1f} s" for k, v in rerun.components.items()) or "nothing"
            lines += [
                "",
                f"Cached rerun of a `{first.label}` run (no new data; {rerun.measured_at}): {rerun.wall:.1f} s wall,"
                f" pipeline {seconds(rerun.pipeline)} s; executed again: {executed};"
                f" reused from the cache: {', '.join(rerun.cached) or 'nothing'}.",
            ]
        if self.retrain:
            lines += ["", self.retrain_line()]
        if self.predict_rows_per_s:
            lines += ["", self.evaluator_efficiency()]
        if self.scaled:
            lines += [
                "",
                "| data | training rows | pipeline s | s per 10k training rows | peak RSS MiB |",
                "|---|---|---|---|---|",
            ]
            for m in [first, *self.scaled]:
                train = m.rows.get("train", 0)
                per = (m.pipeline or 0) / train * 1e4 if train else 0
                lines.append(f"| {m.label} | {train:,} | {seconds(m.pipeline)} | {per:.2f} | {m.peak_rss_mib:,.0f} |")
        if self.failures:
            lines += ["", "Runs that failed (not in the tables):", *[f"- {failure}" for failure in self.failures]]
        lines.append(SECTION_END)
        return "\n".join(lines)

    def extra_runs(self) -> list[Measured]:
        return [m for m in (self.rerun, self.retrain, self.startup) if m]

    def retrain_line(self) -> str:
        """The Evaluator with a baseline against the Trainer of the same run."""
        retrain = self.retrain
        evaluator, trainer = retrain.components.get("Evaluator"), retrain.components.get("Trainer")
        ratio = f" ({evaluator / trainer:.1f} times the Trainer)" if evaluator and trainer else ""
        executed = ", ".join(f"{k} {v:.1f} s" for k, v in retrain.components.items()) or "nothing"
        return (
            f"Retrain on the first run's root with `trainer.seed` + 1 ({retrain.measured_at}; the Evaluator compares"
            f" the candidate with the model the first run pushed): Evaluator {seconds(evaluator)} s, Trainer"
            f" {seconds(trainer)} s{ratio}; {retrain.wall:.1f} s wall, verdict {retrain.verdict}; executed: {executed}."
        )

    def evaluator_efficiency(self) -> str:
        """TFMA's rows/s over the serving signature's, for the candidate alone and with a baseline."""
        predict = self.predict_rows_per_s or 0.0
        alone = self.runs[0].rows_per_second("Evaluator", "eval")
        both = self.retrain.rows_per_second("Evaluator", "eval") if self.retrain else None
        text = (
            f"Evaluator efficiency: `model.predict` (serving signature, batches of 1,024) {predict:,.0f} rows/s;"
            f" TFMA, candidate alone {alone or 0:,.0f} rows/s (ratio {(alone or 0) / predict:.3f})"
        )
        if both:
            text += f", candidate and baseline {both:,.0f} rows/s (ratio per model {2 * both / predict:.3f})"
        return text + "."

    @classmethod
    def from_measured(cls, config_file: Path, path: Path) -> Results:
        """What a (possibly cut-short) bench run wrote to measured.json, by the labels main() gives."""
        results = cls(config_file=config_file)
        for item in json.loads(path.read_text()):
            measured = Measured(**item)
            if measured.label in MODES:
                results.runs.append(measured)
            elif measured.label == "cached rerun":
                results.rerun = measured
            elif measured.label == RETRAIN:
                results.retrain = measured
            elif measured.label == "fixture":
                results.startup = measured
            else:
                results.scaled.append(measured)
        return results

    def publish(self, work: Path, write: bool) -> None:
        measured = [*self.runs, *self.extra_runs()]
        (work / "measured.json").write_text(
            json.dumps([dataclasses.asdict(m) for m in [*measured, *self.scaled]], indent=2)
        )
        if self.predict_rows_per_s:
            (work / "predict.json").write_text(json.dumps({"rows_per_s": self.predict_rows_per_s}))
        if write and self.runs:
            write_section(REPO_ROOT / "bench" / "RESULTS.md", self.section())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--scales", nargs="*", type=int, default=[])
    parser.add_argument("--full-year", action="store_true", help="also train on spans 1-11, evaluate on 12")
    parser.add_argument("--no-startup", action="store_true", help="skip the fixture run (start-up shares)")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "out" / "bench" / "stages", help="where the runs go")
    parser.add_argument("--write", action="store_true", help="replace this harness's section of bench/RESULTS.md")
    parser.add_argument(
        "--render", action="store_true", help="only write the section again from the work folder's measured.json"
    )
    args = parser.parse_args(argv)
    if args.render:
        results = Results.from_measured(args.config, args.work / "measured.json")
        predict = args.work / "predict.json"
        if predict.exists():
            results.predict_rows_per_s = json.loads(predict.read_text())["rows_per_s"]
        print(results.section())
        if args.write:
            write_section(REPO_ROOT / "bench" / "RESULTS.md", results.section())
        return 0

    work = args.work
    if work.exists():
        shutil.rmtree(work)  # every measurement starts from an empty output root
    work.mkdir(parents=True)
    config = load_config(args.config)
    results = Results(config_file=args.config)
    say = lambda text: print(text, flush=True)  # noqa: E731
    say(f"bench.pipeline_stages: runs under {work}")

    def measure(config_file: Path, output_root: Path, label: str) -> Measured | None:
        say(f"  {label} ...")
        try:
            measured = run_main_job(config_file, output_root, label)
        except MainJobError as failure:
            say(f"    FAILED: {failure}")
            results.failures.append(str(failure))
            return None
        say(f"    {seconds(measured.pipeline)} s pipeline, {measured.wall:.1f} s wall, {measured.verdict}")
        return measured

    for mode in args.modes:
        config_file = derived_config(args.config, work, f"mode-{mode}", beam_args=MODES[mode])
        if measured := measure(config_file, work / f"mode-{mode}", mode):
            results.runs.append(measured)
            results.publish(work, args.write)
    if not results.runs:
        raise SystemExit("no mode's run finished: " + "; ".join(results.failures))
    base_mode = results.runs[0].label  # the rerun, the fixture and the scales use the first mode that ran
    first_root = work / f"mode-{base_mode}"
    results.rerun = measure(work / f"mode-{base_mode}.yaml", first_root, "cached rerun")
    raw = yaml.safe_load((work / f"mode-{base_mode}.yaml").read_text())
    seed = (raw.get("trainer") or {}).get("seed", config.model.trainer.seed)
    retrain_file = derived_config(
        work / f"mode-{base_mode}.yaml", work, "retrain", trainer={**(raw.get("trainer") or {}), "seed": seed + 1}
    )
    results.retrain = measure(retrain_file, first_root, RETRAIN)
    model, eval_files = newest_model_and_eval_files(first_root, config)
    results.predict_rows_per_s = predict_rows_per_second(model, eval_files)
    results.publish(work, args.write)

    if not args.no_startup and Path(config.data.root).resolve() != FIXTURE_ROOT.resolve():
        fixture = derived_config(
            args.config,
            work,
            "fixture",
            beam_args=MODES[base_mode],
            data={"root": str(FIXTURE_ROOT), "train_window": 1},
        )
        results.startup = measure(fixture, work / "fixture", "fixture")
        results.publish(work, args.write)

    for factor in args.scales:
        root = replicated_root(config, work, factor)
        config_file = derived_config(
            args.config, work, f"scale-{factor}", beam_args=MODES[base_mode], data={"root": str(root)}
        )
        if measured := measure(config_file, work / f"scale-{factor}", f"x{factor}"):
            results.scaled.append(measured)
        results.publish(work, args.write)
    if args.full_year:
        config_file = derived_config(
            args.config, work, "full-year", beam_args=MODES[base_mode], data={"train_window": 11}
        )
        if measured := measure(config_file, work / "full-year", "full year"):
            results.scaled.append(measured)
        results.publish(work, args.write)
    print(results.section())
    return 0


def write_section(path: Path, section: str) -> None:
    """Replaces the harness's marked section of RESULTS.md, or appends it."""
    text = path.read_text()
    if SECTION_START in text and SECTION_END in text:
        before, rest = text.split(SECTION_START, 1)
        text = before + section + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
