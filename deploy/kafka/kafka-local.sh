#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for Vigil; see README.md beside this file.
#   deploy/kafka/kafka-local.sh fetch | start [--detach] | stop | status  [--port N] [--controller-port N] [--data-dir DIR]
# Python: $VIGIL_PYTHON, else the repository's .venv, else python3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -n "${VIGIL_PYTHON:-}" ]]; then
    python="$VIGIL_PYTHON"
elif [[ -x "$root/.venv/bin/python" ]]; then
    python="$root/.venv/bin/python"
else
    python=python3
fi
# No cd: relative --data-dir paths stay relative to the caller's directory.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m streams.localkafka "$@"
