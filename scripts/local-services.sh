#!/usr/bin/env bash
# Brings up the local services the tests need, on a Debian machine where you are root:
#   - PostgreSQL (the installed cluster, started) accepting user `postgres` without a password on
#     127.0.0.1 and ::1 (trust for loopback only), the role able to create databases;
#   - Redis on 127.0.0.1:6379 (installed with apt-get when missing).
# Idempotent: anything already up is left as it is. Used by .ci/run; the README points here too.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
pg_trusts() { psql -h 127.0.0.1 -U postgres -w -d postgres -Atc 'select 1' >/dev/null 2>&1; }
redis_up() { command -v redis-cli >/dev/null 2>&1 && redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "local-services: $* is missing and this is not root: install it (apt-get install -y $*)" >&2
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL --------------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt_install postgresql
fi
if ! pg_trusts; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if [ ! -f "$hba" ]; then
    echo "local-services: no PostgreSQL cluster config at $hba" >&2
    exit 1
  fi
  # Loopback TCP for postgres without a password: put trust lines first (pg_hba is first-match).
  if ! grep -q '^# local-services: trust loopback' "$hba"; then
    tmp=$(mktemp)
    {
      echo '# local-services: trust loopback (test machine only)'
      echo 'host    all             all             127.0.0.1/32            trust'
      echo 'host    all             all             ::1/128                 trust'
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
  fi
  if pg_up; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  else
    echo "local-services: starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
fi
for _ in $(seq 1 30); do pg_trusts && break; sleep 1; done
pg_trusts || { echo "local-services: PostgreSQL on 127.0.0.1:5432 does not accept user postgres without a password" >&2; exit 1; }

# --- Redis -------------------------------------------------------------------------------------
if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  echo "local-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/local-services.log
fi
for _ in $(seq 1 30); do redis_up && break; sleep 1; done
redis_up || { echo "local-services: Redis did not come up on 127.0.0.1:6379" >&2; exit 1; }

echo "local-services: PostgreSQL (trust on loopback) and Redis are up"
