"""Fixtures of the store tests: example app wheels (built once), and per test an isolated
apps root, trusted-keys directory, catalog and vendor key pair."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from store_helpers import example_wheel, library_wheel

from vigil.appstore.keys import generate_keypair, trust_key


class Wheels:
    """Example app wheels, each built on first use (about a second each)."""

    def __init__(self, work: Path):
        self.work = work

    def _out(self, name: str) -> Path:
        return self.work / "wheels" / name

    @cached_property
    def v1(self) -> Path:
        return example_wheel(self.work, self._out("v1"))

    @cached_property
    def v1_1(self) -> Path:
        return example_wheel(self.work, self._out("v1_1"), version="1.1.0")

    @cached_property
    def sdk2(self) -> Path:
        """queue_length 2.0.0, needing SDK >=2."""
        return example_wheel(self.work, self._out("sdk2"), version="2.0.0", sdk=">=2")

    @cached_property
    def numpy_conflict(self) -> Path:
        """queue_length 1.0.0 requiring numpy<1.0 (Vigil's numpy is shared with apps)."""
        return example_wheel(self.work, self._out("conflict"), dependencies=["numpy<1.0"])

    @cached_property
    def with_dep(self) -> Path:
        """queue_length 1.0.0 requiring waitstats>=0.1 (not shared: published with it)."""
        return example_wheel(self.work, self._out("with_dep"), dependencies=["waitstats>=0.1"])

    @cached_property
    def fake_numpy(self) -> Path:
        """A wheel calling itself numpy 9.0.0: an app must not ship a shared package."""
        return library_wheel(self.work, self._out("numpy"), "numpy", "9.0.0", "")

    @cached_property
    def waitstats_rebuilt(self) -> Path:
        """Another build of waitstats 0.1.0, with other contents."""
        return library_wheel(self.work, self._out("rebuilt"), "waitstats", "0.1.0", "MEAN = 0\n")

    @cached_property
    def waitstats(self) -> Path:
        return library_wheel(
            self.work, self._out("waitstats"), "waitstats", "0.1.0", "MEAN = 'mean'\n"
        )


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    return Wheels(tmp_path_factory.mktemp("build"))


@dataclass(frozen=True)
class Store:
    root: Path  # VIGIL_APPS_DIR
    trusted: Path  # VIGIL_TRUSTED_KEYS
    catalog: Path  # VIGIL_CATALOG
    key: Path  # the vendor's private key (its public key is trusted)
    pub: Path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    s = Store(
        root=tmp_path / "apps",
        trusted=tmp_path / "trusted-keys",
        catalog=tmp_path / "catalog",
        key=tmp_path / "vendor" / "vendor.key",
        pub=tmp_path / "vendor" / "vendor.pub",
    )
    monkeypatch.setenv("VIGIL_APPS_DIR", str(s.root))
    monkeypatch.setenv("VIGIL_TRUSTED_KEYS", str(s.trusted))
    monkeypatch.setenv("VIGIL_CATALOG", str(s.catalog))
    generate_keypair(s.key.parent)
    trust_key(s.pub)
    return s
