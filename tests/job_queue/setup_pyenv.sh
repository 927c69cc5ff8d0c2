#!/usr/bin/env bash
# Makes the Python environment tests/job_queue.rs uses: a venv at
# target/pyenv (or $1) with the pinned packages of requirements.txt.
# Does nothing when it is already complete. Needs python3 and PyPI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/../../target/pyenv}"
req="$here/requirements.txt"
stamp="$venv/.requirements.txt"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then
    exit 0
fi
echo "preparing $venv (job-queue test: $(grep -v '^#' "$req" | tr '\n' ' '))"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
