#!/usr/bin/env bash
# Install the Debian packages the test suite needs, if missing (idempotent).
#
#   dovecot-imapd  private IMAP server for tests/servers.py (DovecotServer)
#   postgresql     initdb/pg_ctl for tests/servers.py (PostgresServer)
#   isync          mbsync, used by a benchmark
#   openssl        test CA and certificates
#   python3-venv   the virtualenv the scripts create (not in a minimal Debian 12)
#   chromium       headless browser: the browse-page test (tests/test_browse.py), report
#                  charts as PNG and the report printed to PDF (tests/test_report.py)
#   poppler-utils  pdftotext, to read the printed report in tests/test_report.py
#   fonts-dejavu-core  the charts' font, so PNGs and PDFs look the same everywhere
#
# Works as root (Debian 12 containers, no init system) or as a user with sudo.
# The tests start their own servers on free ports; the system Dovecot and
# PostgreSQL are kept from starting during installation (policy-rc.d) and are
# stopped afterwards if the installation started them anyway.
# Set STOP_SYSTEM_SERVICES=1 to stop already-running system instances too.
set -euo pipefail

PACKAGES=(python3-venv dovecot-imapd postgresql isync openssl chromium poppler-utils
          fonts-dejavu-core)
export DEBIAN_FRONTEND=noninteractive

log() { printf '[system-deps] %s\n' "$*"; }

if [[ $(id -u) -eq 0 ]]; then
    AS_ROOT=(env DEBIAN_FRONTEND=noninteractive)
elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
    log "ERROR: not root and sudo is not available" >&2
    exit 1
fi

installed() {
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if installed "$pkg"; then
        log "already installed: $pkg"
    else
        missing+=("$pkg")
    fi
done

installed_now=0
if ((${#missing[@]})); then
    log "missing: ${missing[*]}"
    # Keep the packages' services from starting (no-op when a policy exists).
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        log "temporarily installing $policy (exit 101) so services do not start"
        "${AS_ROOT[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        trap '"${AS_ROOT[@]}" rm -f '"$policy" EXIT
    fi
    apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
    log "apt-get update"
    "${AS_ROOT[@]}" apt-get "${apt_opts[@]}" -qq update
    log "apt-get install ${missing[*]}"
    "${AS_ROOT[@]}" apt-get "${apt_opts[@]}" -qq -y --no-install-recommends \
        install "${missing[@]}" >/dev/null
    installed_now=1
else
    log "nothing to install"
fi

# Stop system instances started by the installation (or any, if asked to).
if ((installed_now)) || [[ ${STOP_SYSTEM_SERVICES:-0} == 1 ]]; then
    if [[ -s /run/dovecot/master.pid ]] &&
        "${AS_ROOT[@]}" kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
        log "stopping system dovecot"
        "${AS_ROOT[@]}" service dovecot stop >/dev/null 2>&1 ||
            "${AS_ROOT[@]}" doveadm stop >/dev/null 2>&1 ||
            "${AS_ROOT[@]}" kill "$(cat /run/dovecot/master.pid)" || true
    else
        log "system dovecot not running"
    fi
    if command -v pg_lsclusters >/dev/null 2>&1; then
        stopped=0
        while read -r version cluster _port status _rest; do
            if [[ $status == online* ]]; then
                log "stopping system postgresql cluster $version/$cluster"
                "${AS_ROOT[@]}" pg_ctlcluster "$version" "$cluster" stop ||
                    "${AS_ROOT[@]}" service postgresql stop || true
                stopped=1
            fi
        done < <(pg_lsclusters -h 2>/dev/null || true)
        ((stopped)) || log "system postgresql not running"
    fi
fi

# Report what the tests will use.
log "dovecot $(/usr/sbin/dovecot --version)"
pg_bin=$(find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1) || true
log "postgresql initdb: ${pg_bin:-NOT FOUND}"
log "$(mbsync --version 2>&1 | head -n 1)"
log "$(openssl version)"
log "$(chromium --version 2>/dev/null || echo "chromium: NOT FOUND")"
