#!/usr/bin/env bash
# Builds (or reuses) OpenTofu, the Terraform-compatible client the Terraform state tests run
# against moto (S3 backend, DynamoDB lock and checksum items). It comes from the Go module proxy
# and is cached in a version-stamped folder outside the checkout; a second run finds the binary
# and does nothing.
#
# Prints the path of the tofu binary on its last line.
set -euo pipefail

TOFU_VERSION="1.10.10"

cache_root="${AUTOSTACK_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/autostack-chatops}"
dest="$cache_root/tofu-v${TOFU_VERSION}"

log() { printf '[build-tofu] %s\n' "$*" >&2; }

if [[ -x "$dest/tofu" ]]; then
  log "reusing $dest"
  printf '%s\n' "$dest/tofu"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "go is required to build OpenTofu for the Terraform state tests" >&2; exit 1; }

started=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest.partial"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

# OpenTofu's go.mod replaces a module (its fork of HCL), so `go install` refuses it; a wrapper
# module carries the same replace directives.
(
  cd "$work"
  go mod init autostack.test/tofu >/dev/null 2>&1
  modfile="$(go mod download -json "github.com/opentofu/opentofu@v${TOFU_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  {
    echo "require github.com/opentofu/opentofu v${TOFU_VERSION}"
    grep -E '^replace [^(]' "$modfile" || true
    sed -n '/^replace (/,/^)/p' "$modfile"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
GO
  log "resolving OpenTofu v${TOFU_VERSION} modules"
  go get github.com/opentofu/opentofu/cmd/tofu >/dev/null 2>&1
  log "building tofu"
  go build -p=2 -trimpath -ldflags "-s -w" -o "$dest.partial/tofu" github.com/opentofu/opentofu/cmd/tofu
)

rm -rf "$dest"
mv "$dest.partial" "$dest"
log "built in $((SECONDS - started)) s: $dest"
printf '%s\n' "$dest/tofu"
