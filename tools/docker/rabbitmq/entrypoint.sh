#!/bin/sh
# The default user from RABBITMQ_DEFAULT_USER/PASS (the administrator), reachable from outside the container; logs to
# stdout. With RABBITMQ_SERVICES_USER and RABBITMQ_SERVICES_PASS, also a user for the services without management tags
# and with full rights on the "/" virtual host only (created, or its password set again, once the node is up); the file
# /tmp/contacts-rabbitmq-ready appears when that is done (or at once without it), for docker-compose's health check.
set -eu
rm -f /tmp/contacts-rabbitmq-ready
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
loopback_users = none
listeners.tcp.default = 5672
management.tcp.port = 15672
log.console = true
log.console.level = info
log.file = false
CONF
# The node's cookie before the node starts, so the CLI below never makes one of its own first.
if [ ! -s /var/lib/rabbitmq/.erlang.cookie ]; then
  head -c 30 /dev/urandom | od -An -tx1 | tr -d ' \n' > /var/lib/rabbitmq/.erlang.cookie
fi
chmod 400 /var/lib/rabbitmq/.erlang.cookie
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
export HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="rabbit@localhost"

# The CLI itself (the Debian wrapper would re-run it through `su` and a shell string): as root, with the node's cookie
# from HOME above, the password passed as an argument.
rabbitmqctl() { /usr/lib/rabbitmq/bin/rabbitmqctl "$@"; }
services_user() {
  # await_startup needs the node's runtime up already: until then it fails at once.
  tries=0
  until rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1; do
    tries=$((tries + 1)); [ "$tries" -lt 150 ] || return 1
    sleep 2
  done
  if rabbitmqctl -q list_users | cut -f1 | grep -qx "$RABBITMQ_SERVICES_USER"; then
    rabbitmqctl -q change_password "$RABBITMQ_SERVICES_USER" "$RABBITMQ_SERVICES_PASS" >/dev/null || return 1
  else
    rabbitmqctl -q add_user "$RABBITMQ_SERVICES_USER" "$RABBITMQ_SERVICES_PASS" >/dev/null || return 1
  fi
  rabbitmqctl -q set_user_tags "$RABBITMQ_SERVICES_USER" >/dev/null || return 1
  rabbitmqctl -q set_permissions -p / "$RABBITMQ_SERVICES_USER" ".*" ".*" ".*" >/dev/null || return 1
  echo "entrypoint: broker user $RABBITMQ_SERVICES_USER ready (no tags, full rights on /)"
}
if [ -n "${RABBITMQ_SERVICES_USER:-}" ] && [ -n "${RABBITMQ_SERVICES_PASS:-}" ]; then
  ( if services_user; then touch /tmp/contacts-rabbitmq-ready; else echo "entrypoint: the services' broker user could not be made" >&2; fi ) &
else
  touch /tmp/contacts-rabbitmq-ready
fi
# The server script itself, not the Debian wrapper, which sends its output to a file instead of stdout.
exec su rabbitmq -s /bin/sh -c "HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost exec /usr/lib/rabbitmq/bin/rabbitmq-server"
