#!/usr/bin/env bash
# The gateway half of `make demo`: the same SmolLM2 behind `hegui serve` (cn policy,
# ledger), assessed through the gateway the way the regulator sees the service, then the
# two runs side by side and the evidence ledger verified.
# Usage: bash examples/demo_gateway.sh VENV_DIR [PORT]
set -u
venv=${1:?usage: demo_gateway.sh VENV_DIR [PORT]}
port=${2:-8765}
data=runs/demo-gateway-data
rm -rf "$data" runs/demo-gateway
"$venv/bin/hegui" audit keygen --out "$data/keys" >/dev/null || exit 2
"$venv/bin/hegui" serve --upstream local:smollm2 --policy cn --data-dir "$data" \
    --producer HEGUI-DEMO --port "$port" >runs/demo-gateway.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
"$venv/bin/python" - "$port" <<'PY' || exit 2
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/healthz"
for _ in range(600):
    try:
        with urllib.request.urlopen(url, timeout=1):
            sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("the gateway did not start; see runs/demo-gateway.log")
PY
"$venv/bin/hegui" assess --target "gateway:http://127.0.0.1:$port#smollm2" --sample 6 \
    --seed 2026 --max-tokens 160 --concurrency 1 --out runs/demo-gateway
status=$?
if [ "$status" -gt 1 ]; then exit "$status"; fi
echo "== 4. side by side: the bare model and the model behind the gateway =="
"$venv/bin/hegui" compare runs/demo-smollm2 runs/demo-gateway
echo "== 5. the gateway's evidence: every exchange in a verifiable ledger =="
"$venv/bin/hegui" audit verify --data-dir "$data" || exit 2
"$venv/bin/hegui" audit stats --data-dir "$data"
