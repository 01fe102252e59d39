#!/usr/bin/env bash
# Installs the native services the hermetic test suite starts privately:
# redis-server, PostgreSQL (server + client), moto_server (AWS mock), chromium, and builds from
# Go modules (pinned versions, cached outside the checkout; Go must be installed): a Kubernetes
# control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok:
# scripts/build-kube.sh, about 10 minutes cold on 2 cores), OpenTofu for the Terraform state
# tests (scripts/build-tofu.sh), Alertmanager for the alert silence tests
# (scripts/build-alertmanager.sh, about 12 minutes cold on 2 cores) and the chart tools (helm,
# promtool, Kubernetes schemas: scripts/build-tools.sh).
#
# Idempotent: every step is skipped when what it installs is already present,
# so a second run does no network or package work. Must run as root (or via
# sudo) on Debian 12. The tests never use the system-wide postgres/redis
# services, so any the packages start are stopped again.
set -euo pipefail

MOTO_VERSION="5.2.1"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-test-deps] %s\n' "$*"; }

if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=()
fi

newest_pg_bindir() {
  local dir best="" best_major=0 major
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -d "$dir" ]] || continue
    major="$(basename "$(dirname "$dir")")"
    [[ "$major" =~ ^[0-9]+$ ]] || continue
    if (( major > best_major )); then
      best_major=$major
      best=$dir
    fi
  done
  printf '%s' "$best"
}

pg_complete() {
  local bindir
  bindir="$(newest_pg_bindir)"
  [[ -n "$bindir" ]] || return 1
  local tool
  for tool in initdb pg_ctl postgres psql pg_dump pg_restore pg_isready; do
    [[ -x "$bindir/$tool" ]] || return 1
  done
}

# --- apt packages --------------------------------------------------------
apt_packages=()
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
if ! pg_complete; then
  apt_packages+=(postgresql postgresql-client)
fi
[[ -x /usr/bin/chromium ]] || apt_packages+=(chromium)
if ! command -v python3 >/dev/null 2>&1; then
  apt_packages+=(python3 python3-pip)
elif ! python3 -m pip --version >/dev/null 2>&1; then
  apt_packages+=(python3-pip)
fi

if (( ${#apt_packages[@]} > 0 )); then
  log "installing apt packages: ${apt_packages[*]}"
  # Keep the packages' postinst scripts from starting system services: the
  # tests start their own private instances on free ports.
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  cleanup_policy() {
    if [[ "$created_policy" -eq 1 ]]; then
      "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    fi
  }
  trap cleanup_policy EXIT
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${apt_packages[@]}"
  cleanup_policy
  created_policy=0
  trap - EXIT

  # Belt and braces: if a service got started anyway (systemd hosts ignore
  # policy-rc.d in some setups), stop it so it cannot hold ports or memory.
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    for unit in redis-server postgresql; do
      "${SUDO[@]}" systemctl stop "$unit" >/dev/null 2>&1 || true
      "${SUDO[@]}" systemctl disable "$unit" >/dev/null 2>&1 || true
    done
  else
    for svc in redis-server postgresql; do
      if [[ -x "/etc/init.d/$svc" ]]; then
        "${SUDO[@]}" "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
      fi
    done
  fi
  if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r ver name _port status _rest; do
      if [[ "$status" == online* ]]; then
        "${SUDO[@]}" pg_ctlcluster "$ver" "$name" stop -m fast >/dev/null 2>&1 || true
      fi
    done < <(pg_lsclusters --no-header 2>/dev/null || true)
  fi
else
  log "apt packages already present (redis-server, postgresql, chromium)"
fi

# --- moto_server ---------------------------------------------------------
moto_ok() {
  command -v moto_server >/dev/null 2>&1 || return 1
  python3 - "$MOTO_VERSION" <<'PY' >/dev/null 2>&1
import sys
import importlib.metadata as md
import moto.server  # noqa: F401  (fails when the [server] extra is missing)
sys.exit(0 if md.version("moto") == sys.argv[1] else 1)
PY
}

if moto_ok; then
  log "moto[server]==${MOTO_VERSION} already installed"
else
  log "installing moto[server]==${MOTO_VERSION}"
  pip_args=(install --disable-pip-version-check --no-input "moto[server]==${MOTO_VERSION}")
  # Debian's system python refuses global installs unless told otherwise.
  if python3 -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
    pip_args+=(--break-system-packages)
  fi
  "${SUDO[@]}" python3 -m pip "${pip_args[@]}"
  hash -r
  if ! moto_ok; then
    echo "moto_server ${MOTO_VERSION} is still not available on PATH after pip install" >&2
    exit 1
  fi
fi

# --- Kubernetes control plane ---------------------------------------------
kube_dir="$(bash "$(dirname "${BASH_SOURCE[0]}")/build-kube.sh" | tail -n 1)"

# --- OpenTofu ------------------------------------------------------------
# The Terraform state tests prove with a real Terraform-compatible client that a restored
# state is accepted; built once from the Go module proxy, cached outside the checkout.
tofu_bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/build-tofu.sh" | tail -n 1)"

# --- Alertmanager --------------------------------------------------------
# The alert Silence / Unsilence tests create and expire silences in a real Alertmanager; built
# once from the Go module proxy, cached outside the checkout.
alertmanager_bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/build-alertmanager.sh" | tail -n 1)"

# --- chart tools ---------------------------------------------------------
# helm, promtool and the Kubernetes schemas, built from the Go module proxy
# into a cache outside the checkout (nothing to do when already there).
tools_dir="$(bash "$(dirname "${BASH_SOURCE[0]}")/build-tools.sh")"

# --- summary -------------------------------------------------------------
log "redis-server: $(command -v redis-server)"
log "postgresql:   $(newest_pg_bindir)"
log "moto_server:  $(command -v moto_server)"
log "chromium:     /usr/bin/chromium"
log "tofu:         ${tofu_bin}"
log "alertmanager: ${alertmanager_bin}"
log "chart tools:  $tools_dir"
log "kubernetes:   $kube_dir"
log "done"
