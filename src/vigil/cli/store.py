"""``vigil store``: vendor keys, publishing apps to a catalog, searching a catalog."""

from __future__ import annotations

from pathlib import Path

import click

CATALOG_HELP = "Catalog directory or file:// / http(s):// URL [$VIGIL_CATALOG]."


def warn(message: str) -> None:
    """A warning the operator must not miss."""
    click.secho(f"WARNING: {message}", fg="red", bold=True, err=True)


@click.group()
def store() -> None:
    """The app store: vendor keys, publishing to a catalog, searching it."""


@store.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for the key pair.",
)
@click.option("--name", default="vendor", show_default=True, help="File name stem of the keys.")
def keygen(out_dir: Path, name: str) -> None:
    """Create an ed25519 signing key pair (NAME.key stays private, NAME.pub goes to operators)."""
    from vigil.appstore.keys import generate_keypair, key_id, load_public_key

    key, pub = generate_keypair(out_dir, name)
    click.echo(
        f"private key: {key}\npublic key:  {pub}\nkey id:      {key_id(load_public_key(pub))}"
    )


@store.command()
@click.argument("pub", type=click.Path(path_type=Path))
@click.option(
    "--for-app",
    "app_ids",
    multiple=True,
    metavar="ID",
    help="Also make this key the only one whose releases of app ID are installed, replacing "
    "the key it is pinned to (logged). Repeatable.",
)
def trust(pub: Path, app_ids: tuple[str, ...]) -> None:
    """Trust a vendor's public key: apps it signed may be installed.

    An app id is pinned to the key of its first verified install; releases signed by another
    key are refused until --for-app ID moves it to this key.
    """
    from vigil.appstore.installed import apps_root
    from vigil.appstore.keys import trust_key, trusted_keys_dir
    from vigil.appstore.publishers import AUDIT_FILENAME, check_app_id, transfer

    for app_id in app_ids:  # before anything is written
        check_app_id(app_id)
    kid = trust_key(pub)
    click.echo(f"trusted key {kid} (in {trusted_keys_dir()})")
    for app_id in app_ids:
        previous = transfer(app_id, kid)
        if previous is not None and previous.key_id == kid:
            click.echo(f"app {app_id}: already published by key {kid}")
            continue
        was = f"key {previous.key_id}" if previous is not None else "not pinned"
        click.echo(
            f"app {app_id}: now published by key {kid} (was {was}); "
            f"logged in {apps_root() / AUDIT_FILENAME}"
        )


@store.command()
@click.argument("wheel", type=click.Path(path_type=Path))
@click.option("--catalog", help="Catalog directory to publish into [$VIGIL_CATALOG].")
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    help="Vendor private key; without it the release is unsigned.",
)
@click.option(
    "--with",
    "bundled",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A wheel the app depends on, published with it (repeat for each).",
)
@click.option(
    "--rotate-key",
    is_flag=True,
    help="The app's other releases are signed with another key: re-sign them with --key "
    "(operators then move the app to it: vigil store trust NEW.pub --for-app ID).",
)
def publish(
    wheel: Path,
    catalog: str | None,
    key: Path | None,
    bundled: tuple[Path, ...],
    rotate_key: bool,
) -> None:
    """Add WHEEL's app version to a catalog (replacing the same version), signed with --key."""
    from vigil.appstore.catalog import catalog_location
    from vigil.appstore.publish import publish as publish_wheel

    app_id, release = publish_wheel(
        wheel, catalog_location(catalog), key, bundled, rotate_key=rotate_key
    )
    version = release.manifest["version"]
    if release.key_id is None:
        warn(f"{app_id} {version} published UNSIGNED: only --developer-mode installs it")
    else:
        click.echo(f"published {app_id} {version} signed by key {release.key_id}")


@store.command()
@click.argument("text", required=False, default="")
@click.option("--catalog", help=CATALOG_HELP)
def search(text: str, catalog: str | None) -> None:
    """Apps in a catalog whose id, name, vendor or description contain TEXT."""
    from vigil.apps.base import SDK_VERSION
    from vigil.appstore.catalog import INDEX_FILENAME, Catalog, catalog_location
    from vigil.appstore.listing import browse

    listing = browse(Catalog(catalog_location(catalog)))  # a rolled-back catalog is refused
    if listing.index_problem is not None:
        warn(
            f"{INDEX_FILENAME} {listing.index_problem}: only --developer-mode installs from "
            "this catalog"
        )
    needle = text.lower()
    found = 0
    for app in listing.apps.values():
        manifest, signature = app.manifest, app.signature
        haystack = " ".join((manifest.id, manifest.name, manifest.vendor, manifest.description))
        if needle not in haystack.lower():
            continue
        found += 1
        if signature.key_id is None:
            trust_note = "UNSIGNED"
        else:
            trust_note = (
                f"key {signature.key_id} {'trusted' if signature.trusted else 'NOT trusted'}"
            )
            if signature.status == "altered":
                trust_note += ", signature does NOT match (altered)"
            if signature.publisher is not None and signature.publisher != signature.key_id:
                trust_note += f", NOT this app's publisher here (key {signature.publisher})"
        sdk_note = "" if app.sdk_ok else f", needs SDK {manifest.sdk} (this Vigil: {SDK_VERSION})"
        click.echo(
            f"{manifest.id} {app.version}  {manifest.name} by {manifest.vendor} [{trust_note}{sdk_note}]"
        )
        if manifest.description:
            click.echo(f"    {manifest.description}")
    if not found:
        click.echo(
            f"no app matches {text!r} in {listing.location}"
            if text
            else f"{listing.location} lists no apps"
        )
