#!/usr/bin/env bash
# `npm test`: make sure what the suite needs is there, then run it. Postgres-backed tests never
# skip: if Postgres cannot be reached (and cannot be started here), this fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

PGHOST_CHECK=127.0.0.1
PGPORT_CHECK=5432
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  PGHOST_CHECK=$(node -e 'const u=new URL(process.argv[1]);console.log(u.hostname)' "$TEST_DATABASE_URL")
  PGPORT_CHECK=$(node -e 'const u=new URL(process.argv[1]);console.log(u.port||5432)' "$TEST_DATABASE_URL")
fi

pg_up() { node -e '
  const net = require("node:net");
  const s = net.connect({ host: process.argv[1], port: Number(process.argv[2]) });
  s.on("connect", () => { s.end(); process.exit(0); });
  s.on("error", () => process.exit(1));
  setTimeout(() => process.exit(1), 2000);
' "$PGHOST_CHECK" "$PGPORT_CHECK"; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "test: Postgres is not answering on $PGHOST_CHECK:$PGPORT_CHECK; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! pg_up; then
  echo "test: FAILED: no Postgres at $PGHOST_CHECK:$PGPORT_CHECK — the Postgres-backed tests cannot run." >&2
  echo "      Start one (or set TEST_DATABASE_URL) and run again." >&2
  exit 1
fi

# The dashboard browser test drives Debian's Chromium (no browser download exists here).
# fonts-wqy-microhei so Chinese leave names render in the screenshots rather than as boxes.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing chromium and a CJK font for the dashboard browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  else
    echo "test: FAILED: /usr/bin/chromium is missing; install it (apt-get install chromium)" >&2
    exit 1
  fi
fi

exec npx vitest run "$@"
