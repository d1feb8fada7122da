#!/usr/bin/env bash
# Set up .venv and run the main job on the embedded default: the bundled sample mailbox
# of fictional replies, imported into ./ldn-inbox.sqlite, then a short summary.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh" "" release
exec .venv/bin/ldn-inbox --db "sqlite:///$PWD/ldn-inbox.sqlite" demo
