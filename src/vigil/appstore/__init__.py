"""The app store: signed catalogs of app wheels, verified installation, installed-app records.

Modules: `keys` (ed25519 vendor keys, trusted keys), `wheel` (what an app wheel declares),
`dependencies` (what an app may require besides Vigil), `catalog` (index.json, publishing),
`install` (verify then install, remove, upgrade), `installed` (the installed-apps record),
`publishers` (the one key that publishes each app id), `freshness` (no rolled-back index),
`scaffold` (``vigil apps new``), `registry` (every app a site may name: built-in, installed
from the store and run sandboxed, or an entry point).
"""

from vigil.errors import VigilError


class AppStoreError(VigilError):
    """A catalog, package, key or installation problem, reported as one line."""
