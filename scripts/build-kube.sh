#!/usr/bin/env bash
# Builds (or reuses) the Kubernetes control plane the tests run against:
# kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok (a
# kubelet stand-in that runs no containers). Everything comes from the Go
# module proxy and is cached in a version-stamped folder outside the checkout;
# a second run finds the binaries and does nothing.
#
# Prints the folder holding the binaries on its last line. With --print-dir it
# only prints that folder (the test harness asks it where to look) and builds
# nothing.
set -euo pipefail

KUBERNETES_VERSION="1.37.2"
STAGING_VERSION="0.37.2"   # k8s.io/<staging> modules are tagged v0.<minor>.<patch>
ETCD_VERSION="3.7.0"       # the version Kubernetes ${KUBERNETES_VERSION} pins
KWOK_VERSION="0.8.0"

cache_root="${AUTOSTACK_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/autostack-chatops}"
dest="$cache_root/kube-v${KUBERNETES_VERSION}-etcd-v${ETCD_VERSION}-kwok-v${KWOK_VERSION}"
binaries=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)
# kwok's Logs and ClusterLogs resources: tests register pod log files with them.
crds=(kwok.x-k8s.io_logs.yaml kwok.x-k8s.io_clusterlogs.yaml)

if [[ "${1:-}" == "--print-dir" ]]; then
  printf '%s\n' "$dest"
  exit 0
fi

log() { printf '[build-kube] %s\n' "$*" >&2; }

complete() {
  local bin
  for bin in "${binaries[@]}"; do [[ -x "$dest/$bin" ]] || return 1; done
}

command -v go >/dev/null 2>&1 || { echo "go is required to build the Kubernetes test control plane" >&2; exit 1; }

# Copies kwok's CRD manifests from its module (already in the module cache after the build).
ensure_crds() {
  local folder crd missing=0
  for crd in "${crds[@]}"; do [[ -f "$dest/crds/$crd" ]] || missing=1; done
  (( missing )) || return 0
  folder="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@v${KWOK_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$dest/crds"
  for crd in "${crds[@]}"; do install -m 0644 "$folder/kustomize/crd/bases/$crd" "$dest/crds/$crd"; done
}

if complete; then
  ensure_crds
  log "reusing $dest"
  printf '%s\n' "$dest"
  exit 0
fi

started=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest.partial"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
build_flags=(-p=2 -trimpath -ldflags "-s -w")

# Kubernetes' own go.mod replaces its staging modules with local folders, so
# `go install` refuses it; a wrapper module replaces them with their tags.
mkdir -p "$work/kube"
(
  cd "$work/kube"
  go mod init autostack.test/kube >/dev/null 2>&1
  modfile="$(go mod download -json "k8s.io/kubernetes@v${KUBERNETES_VERSION}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  {
    echo "require k8s.io/kubernetes v${KUBERNETES_VERSION}"
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$modfile" \
      | grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging' \
      | awk '{print $1}' \
      | grep -vE 'k8s\.io/sample-(cli-plugin|controller)$' \
      | sed "s/.*/\t& => & v${STAGING_VERSION}/"
    echo ")"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  log "resolving Kubernetes v${KUBERNETES_VERSION} modules"
  go get k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler >/dev/null
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    log "building $cmd"
    go build "${build_flags[@]}" -o "$dest.partial/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
)

mkdir -p "$work/etcd"
(
  cd "$work/etcd"
  go mod init autostack.test/etcd >/dev/null 2>&1
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "building etcd v${ETCD_VERSION}"
  go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null
  go build "${build_flags[@]}" -o "$dest.partial/etcd" .
)

log "building kwok v${KWOK_VERSION}"
GOBIN="$dest.partial" go install "${build_flags[@]}" "sigs.k8s.io/kwok/cmd/kwok@v${KWOK_VERSION}"

rm -rf "$dest"
mv "$dest.partial" "$dest"
ensure_crds
log "built in $((SECONDS - started)) s: $dest"
printf '%s\n' "$dest"
