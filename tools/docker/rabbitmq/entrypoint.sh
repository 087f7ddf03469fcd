#!/bin/sh
# The default user from RABBITMQ_DEFAULT_USER/PASS, reachable from outside the container; logs to stdout.
set -eu
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
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
export HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="rabbit@localhost"
# The server script itself, not the Debian wrapper, which sends its output to a file instead of stdout.
exec su rabbitmq -s /bin/sh -c "HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost exec /usr/lib/rabbitmq/bin/rabbitmq-server"
