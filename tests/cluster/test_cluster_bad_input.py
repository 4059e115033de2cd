"""A cluster site that cannot start says why in one line and exits 2, having changed nothing:
no Ray cluster at the address, PostgreSQL down, a pin to a node that does not exist, no node
with room, SQLite as the shared store."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.cluster.local import LocalRayCluster


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(work: Path, cluster: str, camera_extra: str = "", models: Path | None = None):
    (work / "site.yaml").write_text(
        textwrap.dedent(
            f"""\
            cameras:
              - {{id: cam-a, url: {work / "missing.mp4"}, loop: true{camera_extra}}}
            storage: {{directory: {work / "data"}}}
            server: {{host: 127.0.0.1, port: 0}}
            cluster: {cluster}
            """
        )
    )
    env = {"VIGIL_MODELS": str(models)} if models else {}
    done = subprocess.run(
        [sys.executable, "-m", "vigil.cli.main", "serve", "-c", str(work / "site.yaml")],
        capture_output=True, text=True, timeout=180, cwd=work,
        env={**__import__("os").environ, **env},
    )  # fmt: skip
    return done


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    errors = [line for line in done.stderr.splitlines() if line.startswith("vigil: error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return errors[0]


def test_sqlite_is_refused_as_a_cluster_store(tmp_path: Path):
    done = serve(tmp_path, '{address: "127.0.0.1:6379"}')
    line = one_line_error(done)
    assert "cluster: needs a PostgreSQL database" in line and "sqlite" in line, line


def test_no_ray_cluster_at_the_address(tmp_path: Path, postgres_url: str):
    port = free_port()
    done = serve(tmp_path, f'{{address: "127.0.0.1:{port}", database: "{postgres_url}"}}')
    line = one_line_error(done)
    assert f"cluster.address: no Ray cluster at 127.0.0.1:{port}" in line, line


def test_a_token_file_that_cannot_be_read(tmp_path: Path, postgres_url: str):
    missing = tmp_path / "no-token"
    done = serve(tmp_path, f'{{address: "127.0.0.1:{free_port()}", database: "{postgres_url}", '
                 f"token_file: {missing}}}")  # fmt: skip
    line = one_line_error(done)
    assert (
        "cluster.address: no Ray cluster" in line
        or f"cluster.token_file: cannot read {missing}" in line
    ), line


def test_postgresql_down_at_start(tmp_path: Path):
    url = f"postgresql+psycopg://vigil:secret@127.0.0.1:{free_port()}/vigil"
    done = serve(tmp_path, f'{{address: "127.0.0.1:{free_port()}", database: "{url}"}}')
    line = one_line_error(done)
    assert "127.0.0.1" in line and "secret" not in line, line


@pytest.fixture(scope="module")
def small_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayCluster]:
    ray = LocalRayCluster(2, tmp_path_factory.mktemp("ray"), cpus_per_node=1.0, cameras_per_node=0)
    ray.start()
    try:
        yield ray
    finally:
        ray.stop()


@pytest.mark.loopback_namespace
def test_a_pin_to_a_node_that_does_not_exist(tmp_path: Path, postgres_url: str, small_cluster: Any):
    address = small_cluster.address
    token = small_cluster.token_file
    done = serve(tmp_path, f'{{address: "{address}", database: "{postgres_url}", token_file: {token}}}',
                 ", node: gpu-9")  # fmt: skip
    line = one_line_error(done)
    assert "gpu-9" in line, line


@pytest.mark.loopback_namespace
def test_no_node_with_room(tmp_path: Path, postgres_url: str, small_cluster: Any):
    address = small_cluster.address
    token = small_cluster.token_file
    done = serve(
        tmp_path, f'{{address: "{address}", database: "{postgres_url}", token_file: {token}}}'
    )
    line = one_line_error(done)
    assert "capacity" in line, line
