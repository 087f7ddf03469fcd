#!/usr/bin/env bash
# Installs what the pipeline and its tests need from Debian's packages when missing: RabbitMQ and PostgreSQL for both;
# for the tests also kubectl (the deployment tests build the k8s overlays), promtool (the alert rules) and Chromium (the
# dashboard's browser test; Playwright cannot download its own browser here). Sourced by tools/run, tools/test,
# tools/soak and tools/bench; the servers themselves are started by the project, never as system services.
set -euo pipefail

contacts_install_prerequisites() {
  local for_tests="${1:-}"
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET SDK (dotnet) is required; see global.json for the version" >&2
    return 1
  fi
  local missing=()
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
  if [ "$for_tests" = --tests ]; then
    command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} from Debian's packages..." >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # policy-rc.d keeps the packages' own system services from starting: we start throwaway servers ourselves.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    # The packages start system-wide servers where they can; stop them so they hold no ports we pick.
    $sudo service rabbitmq-server stop >/dev/null 2>&1 || true
    $sudo service postgresql stop >/dev/null 2>&1 || true
    $sudo service prometheus stop >/dev/null 2>&1 || true
  fi
}
