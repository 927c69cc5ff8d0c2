#!/usr/bin/env bash
# Installs what the tests need (real Redis as the differential oracle) and
# runs the whole test suite. Used by CI (.ci/run) and by developers.
set -euo pipefail
cd "$(dirname "$0")/.."

# openssl (the CLI) makes the certificates tests/tls.rs uses.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null || ! command -v openssl >/dev/null || ! command -v redis-sentinel >/dev/null; then
    echo "installing redis-server, redis-tools (test oracle) and openssl"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools redis-sentinel openssl >/dev/null
fi
# Debian's package starts a system redis on 6379; tests use their own ports,
# but do not leave an unrelated server running on CI machines.
if command -v systemctl >/dev/null; then systemctl stop redis-server >/dev/null 2>&1 || true; fi

# tests/job_queue.rs runs RQ and Celery (from PyPI) in a venv at target/pyenv.
if command -v python3 >/dev/null; then tests/job_queue/setup_pyenv.sh; fi

scripts/lint-dockerfile.sh
cargo build --release --bin redust-server
# Extra arguments go to cargo (e.g. --no-fail-fast, --test acl).
cargo test --release "$@" -- --test-threads=2
