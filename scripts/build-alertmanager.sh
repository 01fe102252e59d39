#!/usr/bin/env bash
# Builds (or reuses) Alertmanager, the peer the alert Silence / Unsilence tests create and
# expire silences in through its v2 API. It comes from the Go module proxy and is cached in a
# version-stamped folder outside the checkout; a second run finds the binary and does nothing.
#
# Prints the path of the alertmanager binary on its last line. With --print-path it only prints
# that path (the test harness asks it where to look) and builds nothing.
set -euo pipefail

ALERTMANAGER_VERSION="0.35.0"

cache_root="${AUTOSTACK_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/autostack-chatops}"
dest="$cache_root/alertmanager-v${ALERTMANAGER_VERSION}"

if [[ "${1:-}" == "--print-path" ]]; then
  printf '%s\n' "$dest/alertmanager"
  exit 0
fi

log() { printf '[build-alertmanager] %s\n' "$*" >&2; }

if [[ -x "$dest/alertmanager" ]]; then
  log "reusing $dest"
  printf '%s\n' "$dest/alertmanager"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "go is required to build Alertmanager for the alert silence tests" >&2; exit 1; }

started=$SECONDS
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
rm -rf "$dest.partial"
mkdir -p "$dest.partial"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

# The module on the proxy lacks the web UI's build output (ui/app/dist, embedded with go:embed),
# so `go install ...@v${ALERTMANAGER_VERSION}` stops at "pattern app/dist: no matching files". The
# API needs no UI: a copy of the module with a placeholder page is built through a replace.
(
  cd "$work"
  log "downloading alertmanager v${ALERTMANAGER_VERSION}"
  source_dir="$(go mod download -json "github.com/prometheus/alertmanager@v${ALERTMANAGER_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  cp -r "$source_dir" alertmanager
  chmod -R u+w alertmanager
  for ui in elm mantine; do
    mkdir -p "alertmanager/ui/app/dist/$ui"
    echo '<!doctype html><title>Alertmanager</title><p>Built without the web UI (API only).' > "alertmanager/ui/app/dist/$ui/index.html"
  done
  go mod init autostack.test/alertmanager >/dev/null 2>&1
  {
    echo "require github.com/prometheus/alertmanager v${ALERTMANAGER_VERSION}"
    echo "replace github.com/prometheus/alertmanager => ./alertmanager"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/prometheus/alertmanager/cmd/alertmanager"
GO
  go mod tidy >/dev/null 2>&1 || true
  log "building alertmanager"
  go build -p=2 -trimpath -ldflags "-s -w" -o "$dest.partial/alertmanager" github.com/prometheus/alertmanager/cmd/alertmanager
)

rm -rf "$dest"
mv "$dest.partial" "$dest"
log "built in $((SECONDS - started)) s: $dest"
printf '%s\n' "$dest/alertmanager"
