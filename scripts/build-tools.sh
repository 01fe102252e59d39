#!/usr/bin/env bash
# Builds (or reuses) the release tools the deploy tests run: helm (lint and
# template the chart), promtool (check the alert rules), and the schemas the
# rendered manifests are validated against: Kubernetes' OpenAPI v3 documents
# and the prometheus-operator CRDs (ServiceMonitor, PrometheusRule). All come
# from the Go module proxy and are cached in a version-stamped folder outside
# the checkout; a second run finds them and does nothing.
#
#   bash scripts/build-tools.sh          builds what is missing
#   bash scripts/build-tools.sh --check  only says whether everything is there
#
# Prints the folder on its last line: helm, promtool (when the proxy can build
# it), schemas/kubernetes/*.json and schemas/crds/*.yaml.
set -euo pipefail

HELM_VERSION="4.3.2"
PROMETHEUS_VERSION="0.316.0"   # github.com/prometheus/prometheus tags v0.<minor>.<patch>
KUBERNETES_VERSION="1.37.2"    # the test control plane's (scripts/build-kube.sh)
PROMETHEUS_OPERATOR_VERSION="0.85.0"

cache_root="${AUTOSTACK_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/autostack-chatops}"
dest="$cache_root/tools-helm-v${HELM_VERSION}-prometheus-v${PROMETHEUS_VERSION}-kube-v${KUBERNETES_VERSION}-operator-v${PROMETHEUS_OPERATOR_VERSION}"

log() { printf '[build-tools] %s\n' "$*" >&2; }

complete() {
  [[ -x "$dest/helm" && -e "$dest/.promtool-tried" && -d "$dest/schemas/kubernetes" && -d "$dest/schemas/crds" ]]
}

if complete; then
  log "reusing $dest"
  printf '%s\n' "$dest"
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  echo "the chart tools are not built: run bash scripts/install-test-deps.sh (or bash scripts/build-tools.sh)" >&2
  exit 1
fi

command -v go >/dev/null 2>&1 || { echo "go is required to build helm and promtool" >&2; exit 1; }

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
build_flags=(-p=1 -trimpath -ldflags "-s -w")
mkdir -p "$dest"

module_dir() {
  go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

if [[ ! -x "$dest/helm" ]]; then
  log "building helm v${HELM_VERSION}"
  GOBIN="$dest" go install "${build_flags[@]}" "helm.sh/helm/v4/cmd/helm@v${HELM_VERSION}"
fi

if [[ ! -d "$dest/schemas/kubernetes" ]]; then
  log "Kubernetes v${KUBERNETES_VERSION} OpenAPI documents"
  dir="$(module_dir "k8s.io/kubernetes@v${KUBERNETES_VERSION}")"
  mkdir -p "$dest/schemas"
  rm -rf "$dest/schemas/kubernetes.partial"
  cp -r "$dir/api/openapi-spec/v3" "$dest/schemas/kubernetes.partial"
  chmod -R u+w "$dest/schemas/kubernetes.partial"
  mv "$dest/schemas/kubernetes.partial" "$dest/schemas/kubernetes"
fi

if [[ ! -d "$dest/schemas/crds" ]]; then
  log "prometheus-operator v${PROMETHEUS_OPERATOR_VERSION} CRDs"
  dir="$(module_dir "github.com/prometheus-operator/prometheus-operator@v${PROMETHEUS_OPERATOR_VERSION}")"
  rm -rf "$dest/schemas/crds.partial"
  mkdir -p "$dest/schemas/crds.partial"
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$dest/schemas/crds.partial/"
  chmod -R u+w "$dest/schemas/crds.partial"
  mv "$dest/schemas/crds.partial" "$dest/schemas/crds"
fi

if [[ ! -e "$dest/.promtool-tried" ]]; then
  # promtool's module may carry replace directives, which `go install` refuses;
  # the build log then says why, and the rule check reports it.
  log "building promtool v${PROMETHEUS_VERSION}"
  if GOBIN="$dest" go install "${build_flags[@]}" "github.com/prometheus/prometheus/cmd/promtool@v${PROMETHEUS_VERSION}" 2>"$dest/promtool-build.log"; then
    log "promtool built"
  else
    log "promtool could not be built from the module proxy (see $dest/promtool-build.log)"
  fi
  touch "$dest/.promtool-tried"
fi

printf '%s\n' "$dest"
