#!/usr/bin/env bash
# Set up everything the tests need (Debian packages, .venv) and run the whole suite.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k imap -x
# Two worker processes, each test file in one of them (module fixtures and servers stay per
# worker): the suite takes about half the time; LDN_INBOX_TEST_WORKERS=0 runs it in one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash .ci/system-deps.sh
source scripts/_venv.sh test
exec .venv/bin/python -m pytest -p no:cacheprovider -n "${LDN_INBOX_TEST_WORKERS:-2}" \
    --dist loadfile "$@"
