# Sourced by the other scripts: create .venv with the project installed ($1: extras;
# $2: "editable", the default, for development, or "release" for a plain install).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    if ! "$PYTHON" -c "import ensurepip, venv" 2>/dev/null; then
        echo "[setup] $PYTHON has no venv module: installing python3-venv" >&2
        if [[ $(id -u) -eq 0 ]]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        fi
    fi
    echo "[setup] creating .venv" >&2
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip >&2
fi
echo "[setup] installing ldn-inbox${1:+[$1]} into .venv" >&2
if [[ ${2:-editable} == release ]]; then
    .venv/bin/python -m pip install -q ".${1:+[$1]}" >&2
else
    .venv/bin/python -m pip install -q -e ".${1:+[$1]}" >&2
fi
