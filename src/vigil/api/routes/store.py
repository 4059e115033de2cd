"""The app store of the dashboard: browse the site's catalogs, install, upgrade and remove
store apps without a restart or the CLI.

* ``GET /api/store`` (operator): every configured catalog's apps (``store.catalogs`` of the
  site, then ``$VIGIL_CATALOG``) with what each needs (tracks or pixels, network, the events
  it emits), its signature's standing and the installed version; and the installed apps.
* ``POST /api/store/installs`` (admin, audited): install or upgrade an app as a background
  job (`vigil.appstore.jobs`: the checks of ``vigil apps install``, no developer mode);
  ``GET /api/store/installs`` and ``/api/store/installs/{job_id}`` (admin): the jobs, with
  their step, progress and — when one fails — why, in one line.
* ``DELETE /api/store/apps/{app_id}`` (admin, audited): uninstall, refused (409) while a
  camera runs the app.

An installed app is enabled on cameras with ``PUT /api/cameras/{id}/apps/{name}``
(`routes.config`), applied by the running service like any config edit. The request and
response bodies are here, not in `vigil.api.schemas`: only these routes use them.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from vigil.api.deps import Admin, Operator, State
from vigil.api.schemas import AUTH_ERRORS
from vigil.api.state import ServiceState
from vigil.apps.manifest import APP_ID_PATTERN
from vigil.appstore import AppStoreError
from vigil.appstore.catalog import Catalog
from vigil.appstore.install import remove, require_installed
from vigil.appstore.installed import read_records
from vigil.appstore.jobs import InstallJob, InstallJobs
from vigil.appstore.listing import Listing, browse
from vigil.auth import Principal, audit
from vigil.errors import VigilError

__all__ = ["router"]

router = APIRouter(tags=["store"])

# ---------------------------------------------------------------------------------- bodies


class StoreSignatureOut(BaseModel):
    status: Literal["verified", "unsigned", "untrusted", "altered", "other_publisher"] = Field(
        description="verified: signed by a trusted key, intact, and that key publishes the app "
        "id here; anything else is refused by an install."
    )
    key_id: str | None = Field(description="The key the release says signed it.")
    publisher: str | None = Field(description="The key the app id is pinned to (null: none).")
    problem: str | None = Field(description="Why it is not verified, one line.")


class StoreAppOut(BaseModel):
    id: str
    name: str
    vendor: str
    version: str = Field(description="The newest release this Vigil's SDK runs (else the newest).")
    versions: list[str] = Field(description="Every published version, newest first.")
    description: str
    sdk: str
    sdk_ok: bool = Field(description="Whether this Vigil's app SDK runs `version`.")
    data: Literal["tracks", "pixels"]
    network: bool
    events: list[str]
    settings_schema: dict[str, Any]
    signature: StoreSignatureOut
    installed: str | None = Field(description="The installed version, if any.")
    upgrade: bool = Field(description="`version` is newer than the installed one.")
    permission_changes: list[str] = Field(
        description="What `version` receives or does that the installed version did not."
    )


class StoreCatalogOut(BaseModel):
    location: str
    error: str | None = Field(description="Why the catalog could not be read (one line).")
    index_problem: str | None = Field(
        description="The index's signature problem: nothing installs from it."
    )
    apps: list[StoreAppOut]


class InstalledAppOut(BaseModel):
    id: str
    version: str
    catalog: str
    signed_by: str | None
    installed_at: str
    cameras: list[str] = Field(description="Cameras (that you may see) running it.")


class StoreOut(BaseModel):
    catalogs: list[StoreCatalogOut]
    installed: list[InstalledAppOut]


class InstallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog: str = Field(description="One of the catalogs `GET /api/store` lists.")
    app: str = Field(pattern=f"^{APP_ID_PATTERN}$")
    version: str | None = Field(None, max_length=64, description="null: the newest for this SDK.")


class RemovedOut(BaseModel):
    removed: str = Field(description="The app id.")
    version: str = Field(description="The version that was installed.")


class InstallJobOut(BaseModel):
    id: str
    app: str
    version: str | None
    catalog: str
    started_by: str
    state: Literal["queued", "running", "done", "failed"]
    step: str
    progress: float = Field(ge=0, le=1)
    error: str | None
    installed: str | None
    previous: str | None
    signed_by: str | None
    created_at: float
    finished_at: float | None


# ---------------------------------------------------------------------------------- routes

ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    404: {"description": "Unknown install job, or the app is not installed from the store"},
    409: {"description": "The app runs on cameras: disable it there first"},
    422: {"description": "Not one of the configured catalogs"},
}


async def _jobs(connection: HTTPConnection) -> InstallJobs:
    jobs: InstallJobs = connection.app.state.store_jobs
    return jobs


Jobs = Annotated[InstallJobs, Depends(_jobs)]


def configured_catalogs(state: ServiceState) -> list[str]:
    """The catalogs the store page offers (`SiteConfig.catalogs`; without a site, only
    ``$VIGIL_CATALOG``)."""
    if state.site is not None:
        return state.site.catalogs()
    env = os.environ.get("VIGIL_CATALOG")
    return [env] if env else []


def _app_out(app_id: str, listing: Listing) -> StoreAppOut:
    m = listing.manifest
    return StoreAppOut(
        id=app_id,
        name=m.name,
        vendor=m.vendor,
        version=listing.version,
        versions=listing.versions,
        description=m.description,
        sdk=m.sdk,
        sdk_ok=listing.sdk_ok,
        data=m.data,
        network=m.network,
        events=list(m.events),
        settings_schema=m.settings_schema,
        signature=StoreSignatureOut(**asdict(listing.signature)),
        installed=listing.installed,
        upgrade=listing.upgrade,
        permission_changes=listing.changes,
    )


def _catalog_out(location: str) -> StoreCatalogOut:
    try:
        listing = browse(Catalog(location))
    except VigilError as err:  # unreadable, rolled back, a bad manifest: said in one line
        return StoreCatalogOut(location=location, error=str(err), index_problem=None, apps=[])
    return StoreCatalogOut(
        location=location,
        error=None,
        index_problem=listing.index_problem,
        apps=[_app_out(app_id, app) for app_id, app in listing.apps.items()],
    )


def _running(state: ServiceState, app_id: str, principal: Principal) -> list[str]:
    """The cameras `principal` may see that run `app_id`."""
    cameras = state.site.cameras_running(app_id) if state.site is not None else []
    return [c for c in cameras if principal.can_see(c)]


@router.get("/api/store", response_model=StoreOut, responses=AUTH_ERRORS)
def get_store(principal: Operator, state: State) -> StoreOut:
    """The apps of every configured catalog and the installed store apps."""
    installed = [
        InstalledAppOut(
            id=app_id,
            version=record.version,
            catalog=record.catalog,
            signed_by=record.signed_by,
            installed_at=record.installed_at,
            cameras=_running(state, app_id, principal),
        )
        for app_id, record in read_records().items()
    ]
    return StoreOut(
        catalogs=[_catalog_out(location) for location in configured_catalogs(state)],
        installed=installed,
    )


def _job_out(job: InstallJob) -> InstallJobOut:
    return InstallJobOut(**asdict(job))


@router.post("/api/store/installs", status_code=202, response_model=InstallJobOut, responses=ERRORS)
def start_install(
    body: InstallIn, request: Request, principal: Admin, state: State, jobs: Jobs
) -> InstallJobOut:
    """Install (or upgrade to) `version` of `app` from `catalog` in the background, verified
    as ``vigil apps install`` verifies it; poll the job for its progress."""
    catalogs = configured_catalogs(state)
    if body.catalog not in catalogs:
        raise HTTPException(
            422, f"catalog: {body.catalog!r} is not one of the configured catalogs (store.catalogs)"
        )
    job = jobs.start(body.app, body.version, body.catalog, principal.username)
    detail = {"version": body.version, "catalog": body.catalog, "job": job.id}
    audit(request, principal, "store.install", body.app, detail)
    return _job_out(job)


@router.get("/api/store/installs", response_model=list[InstallJobOut], responses=AUTH_ERRORS)
def list_installs(principal: Admin, jobs: Jobs) -> list[InstallJobOut]:
    """The install jobs of the last hour, newest first."""
    return [_job_out(job) for job in jobs.recent()]


@router.get("/api/store/installs/{job_id}", response_model=InstallJobOut, responses=ERRORS)
def get_install(job_id: str, principal: Admin, jobs: Jobs) -> InstallJobOut:
    """One install job: its state, step, progress, and its reason if it failed."""
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no install job {job_id!r}")
    return _job_out(job)


@router.delete("/api/store/apps/{app_id}", response_model=RemovedOut, responses=ERRORS)
def remove_app(
    app_id: Annotated[str, PathParam(pattern=f"^{APP_ID_PATTERN}$")],
    request: Request,
    principal: Admin,
    state: State,
) -> RemovedOut:
    """Uninstall a store app; refused while a camera runs it."""
    try:
        require_installed(app_id, read_records())
    except AppStoreError as err:
        raise HTTPException(404, str(err)) from None
    cameras = state.site.cameras_running(app_id) if state.site is not None else []
    if cameras:
        raise HTTPException(
            409,
            f"app {app_id!r} is enabled on camera(s) {', '.join(cameras)}: disable it there first",
        )
    version = remove(app_id)
    audit(request, principal, "store.remove", app_id, {"version": version})
    return RemovedOut(removed=app_id, version=version)
