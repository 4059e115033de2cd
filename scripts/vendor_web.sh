#!/usr/bin/env bash
# Vendor the dashboard's front-end libraries and Swagger UI for /docs (no build step, no
# node_modules, nothing loaded from a CDN: both work offline): download each
# pinned tarball from the npm registry, check it against the registry's sha512 integrity AND
# the sha256 pinned here, and keep only the standalone browser build and the licence under
# src/vigil/api/web/static/vendor/<lib>/, with VERSION (the pins) and SHA256SUMS (each kept
# file). Run it again after changing a pin; commit the result.
set -euo pipefail

REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/src/vigil/api/web/static/vendor"

# name version sha512-integrity sha256-of-tarball files-to-keep...
PINS=(
  "chart.js|4.6.1|sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==|9345dacdf4bb4c5d40321f4b9aafab6fe676d37a534fc0bc2d17c4c4e29c4f00|dist/chart.umd.min.js LICENSE.md"
  "swagger-ui-dist|5.35.0|sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==|1b8e891893404ea4c3558b6a87e2a3e494e7eedba41168c2ece5800a391a6ea6|swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt"
  "vis-timeline|8.5.4|sha512-Xt7RNrRvOkQiSyk6vFTXSRwTunT0y9MzDgHY8N8H9nPuebJ6Vg+u3xnv0Swbxna/Pa2E3HjaBblEIQiK74E01Q==|695f0491f385444add8bddb040bdd59d3b6e7ca5e3283ba33186164291c5f200|standalone/umd/vis-timeline-graph2d.min.js styles/vis-timeline-graph2d.min.css LICENSE.MIT.txt LICENSE.Apache-2.0.txt LICENSE.md"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for pin in "${PINS[@]}"; do
  IFS='|' read -r name version integrity sha256 keep <<<"$pin"
  tarball="$work/$name-$version.tgz"
  curl -fsSL --retry 3 -o "$tarball" "$REGISTRY/$name/-/$name-$version.tgz"
  got512="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$got512" != "$integrity" ]]; then
    echo "vendor_web.sh: $name@$version: integrity $got512 != pinned $integrity" >&2
    exit 1
  fi
  got256="$(sha256sum "$tarball" | cut -d' ' -f1)"
  if [[ "$got256" != "$sha256" ]]; then
    echo "vendor_web.sh: $name@$version: sha256 $got256 != pinned $sha256" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar -xzf "$tarball" -C "$work/$name"
  dest="$VENDOR/$name"
  rm -rf "$dest"
  mkdir -p "$dest"
  for file in $keep; do
    cp "$work/$name/package/$file" "$dest/$(basename "$file")"
  done
  printf '%s@%s\nsha256 %s\n%s\n' "$name" "$version" "$sha256" "$integrity" >"$dest/VERSION"
  # the files as they came out of the checked tarball: the tests compare what is served
  (cd "$dest" && sha256sum -- $(for file in $keep; do basename "$file"; done) >SHA256SUMS)
  echo "vendored $name@$version -> ${dest#"$ROOT"/}"
done
