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

# Native addons must load in the Node that runs the suite. Those installed today are N-API builds
# (one file for every Node version), but an addon compiled for a single Node ABI breaks when
# node_modules was installed under one Node and the suite runs under another (.ci/run's second leg
# does exactly that): rebuild for this Node rather than fail a test with "was compiled against a
# different Node.js version".
mapfile -t ADDONS < <(find node_modules -name '*.node' -type f 2>/dev/null)
addons_load() {
  [ "${#ADDONS[@]}" -eq 0 ] || node -e '
    const path = require("node:path");
    const broken = [];
    for (const file of process.argv.slice(1)) {
      try { process.dlopen({ exports: {} }, path.resolve(file)); }
      catch (err) { broken.push(`  ${file}: ${String(err.message).replace(/\s*\n\s*/g, " ")}`); }
    }
    if (broken.length > 0) { console.error(broken.join("\n")); process.exit(1); }
  ' "${ADDONS[@]}"
}
if ! addons_load; then
  echo "test: native addons above do not load in Node $(node --version); npm rebuild"
  npm rebuild
  if ! addons_load; then
    echo "test: FAILED: native addons still do not load in Node $(node --version)." >&2
    echo "      Reinstall node_modules with this Node (rm -rf node_modules && npm install)." >&2
    exit 1
  fi
fi

echo "test: Node $(node --version)"
exec npx vitest run "$@"
