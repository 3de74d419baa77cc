#!/usr/bin/env bash
# Start the dashboard: create .venv if missing, install requirements.txt when
# it changed, then serve Home.py on http://127.0.0.1:8501.
#
# Override the address or port with STREAMLIT_SERVER_ADDRESS and
# STREAMLIT_SERVER_PORT. Any extra arguments go to `streamlit run`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

ensure_venv requirements.txt

address="${STREAMLIT_SERVER_ADDRESS:-127.0.0.1}"
port="${STREAMLIT_SERVER_PORT:-8501}"
echo "Starting the dashboard at http://$address:$port (Ctrl+C stops it)"
exec .venv/bin/python -m streamlit run Home.py \
    --server.address "$address" --server.port "$port" --server.headless true "$@"
