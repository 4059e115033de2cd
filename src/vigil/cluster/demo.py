"""`vigil demo --nodes N --cameras M`: a cluster site on this one machine.

A local Ray cluster of N node processes (`LocalRayCluster`: the head and N-1 workers, each
its own Ray node with its own resources), a PostgreSQL database (the server given with
``--db``, or a private one run from Debian's binaries in the demo folder, kept between runs)
and M looping cameras of the sample clip. The site file ``cluster-site.yaml`` in the demo
folder is written at each start from the single-box demo's camera (M copies) with this run's
Ray address and database: edit ``site.yaml``'s camera, not it. Everything started here is
stopped when the demo ends.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ruamel.yaml import YAML

from vigil.cluster.local import LocalRayCluster
from vigil.cluster.postgres import PrivatePostgres
from vigil.config.loader import load_config
from vigil.config.site import SiteConfig
from vigil.errors import VigilError
from vigil.service.demo import demo_site
from vigil.sources.urls import redact_url

log = logging.getLogger(__name__)

CLUSTER_SITE = "cluster-site.yaml"


@contextmanager
def cluster_demo(
    video: Path | None,
    data_dir: Path,
    *,
    nodes: int,
    cameras: int,
    port: int | None = None,
    database: str | None = None,
    say: Callable[[str], None] = log.info,
) -> Iterator[SiteConfig]:
    """The demo's cluster site, with its Ray cluster and database running until the end of
    the `with` block."""
    if nodes < 1 or cameras < 1:
        raise VigilError(f"--nodes and --cameras must be at least 1, got {nodes} and {cameras}")
    data_dir = data_dir.resolve()
    template = demo_site(video, data_dir, port, lambda clip: say(f"Converting the demo video "
                                                                 f"to H.264 (once, into {clip})..."))  # fmt: skip
    with ExitStack() as running:
        if database is None:
            postgres = PrivatePostgres(data_dir / "postgres")
            database = postgres.start()
            running.callback(postgres.stop)
            say(f"Started a private PostgreSQL in {data_dir / 'postgres'} "
                f"({redact_url(database)})")  # fmt: skip
        ray = LocalRayCluster(nodes, data_dir / "ray", cpus_per_node=1.0, cameras_per_node=cameras)
        running.callback(ray.stop)
        address = ray.start()
        say(f"Started a local Ray cluster of {nodes} node(s) at {address}")
        path = write_cluster_site(template, data_dir, cameras, address, database, ray.token_file)
        site = load_config(path, model=SiteConfig)
        if port is not None:
            site.server.port = port
        yield site


def write_cluster_site(
    template: SiteConfig,
    data_dir: Path,
    cameras: int,
    address: str,
    database: str,
    token_file: Path,
) -> Path:
    """``cluster-site.yaml``: the single-box demo site's first camera `cameras` times, its
    server and detector, with the cluster's address and database; written atomically."""
    assert template.file is not None
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    site = yaml.load(Path(template.file).read_text(encoding="utf-8"))
    camera = site["cameras"][0]
    site["cameras"] = []
    for number in range(1, cameras + 1):
        clone = copy.deepcopy(camera)
        clone["id"] = f"{camera['id']}-{number}"
        clone["loop"] = True
        site["cameras"].append(clone)
    site["storage"]["directory"] = str(data_dir / "cluster")
    site["cluster"] = {"address": address, "database": database, "token_file": str(token_file)}
    path = data_dir / CLUSTER_SITE
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as out:
        yaml.dump(site, out)
    partial.replace(path)
    return path
