#!/usr/bin/env bash
# Set up everything the tests need (Debian packages, .venv) and run the whole suite.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k imap -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash .ci/system-deps.sh
source scripts/_venv.sh test
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
