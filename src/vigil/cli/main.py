"""The `vigil` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vigil import __version__
from vigil.cli.apps import apps
from vigil.cli.assign import disable, enable
from vigil.cli.options import config_option
from vigil.cli.store import store
from vigil.cli.users import users
from vigil.errors import VigilError

if TYPE_CHECKING:
    from vigil.config.schema import VigilConfig

EXIT_BAD_INPUT = 2


class VigilGroup(click.Group):
    """Reports a `VigilError` as one line on stderr with exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VigilError as err:
            click.echo(f"vigil: error: {err}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("vigil: interrupted", err=True)
            sys.exit(130)


@click.group(cls=VigilGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vigil")
def cli() -> None:
    """Vigil: smart video analytics — detect, track and analyse objects in video."""


def _load(config_path: Path | None, source: str | None, no_motion: bool = False) -> VigilConfig:
    from vigil.config.loader import load_config

    config = load_config(config_path)
    if source:
        config.source.url = source
    if no_motion:
        config.motion = config.motion.model_copy(update={"enabled": False})
    _source_url(config)
    return config


def _source_url(config: VigilConfig) -> str:
    """The video source a command reads; ConfigError when neither SOURCE nor the file gave one."""
    from vigil.errors import ConfigError

    if not config.source.url:
        raise ConfigError("no video source: give SOURCE or set source.url in the config")
    return config.source.url


@cli.command()
@click.argument("source", required=False)
@config_option("YAML configuration.")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path),
    help="Where outputs go [runs/<source name>].",
)
@click.option(
    "--mot", type=click.Path(path_type=Path), help="Also write tracks as a MOTChallenge file."
)
@click.option("--mot-classes", help="Comma-separated classes for --mot [person].")
@click.option("--video/--no-video", default=None, help="Write the annotated MP4 [yes].")
@click.option("--db", "database", help="Events database URL or file [<output-dir>/events.db].")
@click.option(
    "--no-motion", is_flag=True, help="Turn motion gating off: detect on every full frame."
)
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop after this many frames.")
def run(
    source: str | None,
    config_path: Path | None,
    output_dir: Path | None,
    mot: Path | None,
    mot_classes: str | None,
    video: bool | None,
    database: str | None,
    no_motion: bool,
    max_frames: int | None,
) -> None:
    """Analyse a video file or stream URL: tracks, app events, annotated video, summary."""
    from rich.console import Console

    from vigil.pipeline.job import run_job
    from vigil.pipeline.progress import progress_reporter

    config = _load(config_path, source, no_motion)
    _announce_device()
    overrides = {
        "directory": output_dir,
        "mot": mot,
        "mot_classes": mot_classes and [c.strip() for c in mot_classes.split(",") if c.strip()],
        "video": video,
        "database": database,
    }
    _override_output(config, {k: v for k, v in overrides.items() if v is not None})
    with progress_reporter(_source_url(config), max_frames) as on_frame:
        summary = run_job(config, max_frames=max_frames, on_frame=on_frame)
    summary.render_table(Console())


def _announce_device() -> None:
    """The detector's one line on which device it runs and why, on stderr (as `vigil serve`
    logs it), without turning on the other libraries' INFO logs."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("vigil: %(message)s"))
    logger = logging.getLogger("vigil.detection.providers")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)


def _override_output(config: VigilConfig, values: dict[str, Any]) -> None:
    """Apply command-line output options, validated like the `output:` section of a file."""
    from pydantic import ValidationError

    from vigil.config.loader import format_validation_error
    from vigil.config.schema import OutputConfig
    from vigil.errors import ConfigError

    try:
        config.output = OutputConfig.model_validate(config.output.model_dump() | values)
    except ValidationError as err:
        raise ConfigError(
            format_validation_error(err, "command line", prefix=("output",), model=OutputConfig)
        ) from None


@cli.command(name="eval")
@click.argument("ground_truth", type=click.Path(path_type=Path))
@click.option("--mot", type=click.Path(path_type=Path), help="MOTChallenge tracks to score.")
@click.option("--source", help="Instead of --mot: run the engine on this video and score it.")
@config_option("YAML configuration for --source.")
@click.option("--no-motion", is_flag=True, help="With --source: turn motion gating off.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def evaluate(
    ground_truth: Path,
    mot: Path | None,
    source: str | None,
    config_path: Path | None,
    no_motion: bool,
    as_json: bool,
) -> None:
    """Score tracks against MOTChallenge ground truth: HOTA, MOTA, IDF1 (TrackEval)."""
    import json
    import tempfile

    from vigil.evaluation.mot_eval import evaluate_mot, format_scores, trackeval_metrics
    from vigil.pipeline.job import run_job

    if (mot is None) == (source is None):
        raise click.UsageError("give exactly one of --mot FILE or --source VIDEO")
    trackeval_metrics()  # missing: say so before a --source run, not after it
    if not ground_truth.is_file():
        raise VigilError(f"ground truth not found: {ground_truth}")
    with tempfile.TemporaryDirectory() as tmp:
        if mot is None:  # --source: track it first
            config = _load(config_path, source, no_motion)
            mot = Path(tmp) / "tracks.txt"
            _override_output(config, {"directory": Path(tmp), "video": False, "mot": mot})
            run_job(config)
        scores = evaluate_mot(mot, ground_truth)
    click.echo(json.dumps(scores.to_dict(), indent=2) if as_json else format_scores(scores))


@cli.command()
@click.argument("source", required=False)
@config_option("YAML configuration, used by `vigil run` and for the reference's thresholds.")
@click.option(
    "--frames", type=click.IntRange(min=1), help="Only the first frames [the whole video]."
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=3, show_default=True, help="Rounds to race."
)
@click.option(
    "--reference-packages",
    type=click.Path(path_type=Path),
    help="Where the reference's tracker is installed [user cache]/bench-reference.",
)
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), help="Also write the figures as JSON."
)
def bench(
    source: str | None,
    config_path: Path | None,
    frames: int | None,
    rounds: int,
    reference_packages: Path | None,
    json_path: Path | None,
) -> None:
    """Time `vigil run` (with and without video) against a hand-written pipeline, each as a
    whole command, back to back, and print the speed-ups."""
    from vigil.benchmark.bench import run_benchmark

    config = _load(config_path, source)
    report = run_benchmark(
        config,
        config_path,
        frames=frames,
        rounds=rounds,
        packages=reference_packages,
        announce=lambda line: click.echo(line, err=True),
    )
    click.echo(report.render())
    if json_path:
        report.to_json(json_path)


@cli.command()
@config_option("Site YAML: cameras, storage, server, MQTT.", required=True)
def serve(config_path: Path) -> None:
    """Run the live service: every camera, recording, events, API, MQTT, metrics."""
    from vigil.config.loader import load_config
    from vigil.config.site import SiteConfig

    _serve(load_config(config_path, model=SiteConfig))


@cli.command()
@click.argument("video", required=False, type=click.Path(path_type=Path))
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=Path("vigil-demo"),
    show_default=True,
    help="The site file (site.yaml, written on the first start), recordings, the database.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="API port on 127.0.0.1 (0: any free port) [the site file's: 8971].",
)
@click.option(
    "--nodes",
    type=click.IntRange(1, 16),
    help="Run the site on a local Ray cluster of this many nodes (needs vigil[cluster]).",
)
@click.option(
    "--cameras",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="With --nodes: looping cameras of the clip.",
)
@click.option(
    "--db",
    "database",
    metavar="URL",
    help="With --nodes: this PostgreSQL database [a private server in the --data folder].",
)
def demo(
    video: Path | None,
    data_dir: Path,
    port: int | None,
    nodes: int | None,
    cameras: int,
    database: str | None,
) -> None:
    """A local demo site: the sample clip (VIDEO, default data/vtest.avi, read when the
    site file is written) as a looping camera, on http://127.0.0.1:PORT. With --nodes, a
    cluster site on this machine: a local Ray cluster, PostgreSQL and --cameras cameras."""
    from vigil.service.demo import demo_site

    def announce(clip: Path) -> None:
        click.echo(f"Converting the demo video to H.264 (once, into {clip})...", err=True)

    if nodes is None:
        if database is not None:
            raise VigilError("--db: only with --nodes (the single-box demo uses SQLite)")
        _serve(demo_site(video, data_dir, port, announce))
        return
    _serve_cluster_demo(video, data_dir, port, nodes, cameras, database)


def _serve_cluster_demo(
    video: Path | None,
    data_dir: Path,
    port: int | None,
    nodes: int,
    cameras: int,
    database: str | None,
) -> None:
    import signal

    from vigil.cluster.demo import cluster_demo

    def interrupted(received: int, _: object) -> None:
        raise SystemExit(0)  # while starting: what was started is stopped on the way out

    signal.signal(signal.SIGTERM, interrupted)
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    with cluster_demo(
        video, data_dir, nodes=nodes, cameras=cameras, port=port, database=database, say=say
    ) as site:
        _serve(site)


def _serve(site) -> None:
    """Run a site until SIGTERM or Ctrl-C, then stop cleanly (exit code 0)."""
    import logging
    import signal

    from vigil.api.server import serve_site
    from vigil.service.site_plan import validate_site
    from vigil.service.supervisor import check_api_port
    from vigil.sources.urls import redact_url

    validate_site(site)
    check_api_port(site.server.host, site.server.port)
    # Absolute from here on: the recording index keeps file paths, which must stay valid
    # when the service is started again from another directory, and what is printed below
    # must say where things are (sqlite:///data/vigil.db reads as an absolute path).
    site.storage.directory = site.storage.directory.resolve()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop_signals: list[int] = []  # a handler only records: see `Supervisor.run`
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _: stop_signals.append(received))

    def ready(url: str) -> None:
        storage = site.storage.directory
        click.echo(f"Vigil is running at {url}")
        click.echo(f"  API docs:   {url}/docs")
        if site.file is not None:
            click.echo(f"  site file:  {Path(site.file).resolve()}")
        click.echo(f"  recordings: {storage / 'recordings'}")
        click.echo(f"  database:   {redact_url(site.storage.database_url())}")
        click.echo("Stop with Ctrl-C.", nl=True)
        sys.stdout.flush()

    serve_site(site, lambda: bool(stop_signals), on_ready=ready)


@cli.group()
def models() -> None:
    """Detection models: list what is known and where, download by name."""


@models.command(name="list")
def models_list() -> None:
    """Known models and whether each is present."""
    from vigil.detection.models import MODELS, search_dirs

    dirs = search_dirs()
    for spec in MODELS.values():
        found = next((d / spec.filename for d in dirs if (d / spec.filename).is_file()), None)
        click.echo(f"{spec.name:<14} {spec.license:<11} {found or 'not downloaded'}")
    click.echo("searched: " + ", ".join(str(d) for d in dirs))


@models.command(name="pull")
@click.argument("name")
@click.option("--url", help="Download from this URL instead of the official release.")
@click.option(
    "--dest", type=click.Path(path_type=Path), help="Directory to save into [user cache]."
)
def models_pull(name: str, url: str | None, dest: Path | None) -> None:
    """Download a model by name and verify its pinned sha256."""
    from vigil.detection.models import pull_model

    click.echo(str(pull_model(name, dest, url=url)))


@models.command(name="quantize")
@click.argument("model", default="yolox-nano")
@click.option(
    "--clip",
    "clips",
    multiple=True,
    required=True,
    help="A video file or camera URL to calibrate on (repeat: frames are spread over all).",
)
@click.option(
    "--frames",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Calibration frames in all.",
)
@click.option(
    "--input-size",
    type=(int, int),
    default=None,
    metavar="W H",
    help="The detector.input_size the model will run at [that setting's default].",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write it [user cache]/<model>-int8.onnx.",
)
def models_quantize(
    model: str,
    clips: tuple[str, ...],
    frames: int,
    input_size: tuple[int, int] | None,
    output: Path | None,
) -> None:
    """Make an INT8 copy of MODEL by ONNX Runtime static quantisation, calibrated on frames of
    your own cameras or clips; use it as `detector.model: <printed name or path>`."""
    from vigil.config.schema import DetectorConfig
    from vigil.detection.quantize import quantize_model
    from vigil.sources.video import spread_frames

    size = input_size or DetectorConfig().input_size
    path = quantize_model(model, spread_frames(clips, frames), input_size=size, output=output)
    click.echo(str(path))


cli.add_command(users)
cli.add_command(apps)
apps.add_command(enable)
apps.add_command(disable)
cli.add_command(store)


def main() -> None:
    try:
        cli.main(prog_name="vigil", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("vigil: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        # Usage mistakes get the same one-line form as every other bad input.
        ctx = getattr(err, "ctx", None)
        hint = f" (try '{ctx.command_path} --help')" if ctx is not None else ""
        click.echo(f"vigil: error: {err.format_message()}{hint}", err=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
