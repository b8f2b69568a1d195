#!/usr/bin/env bash
# The HTTP API in five minutes, with curl. Start the platform first (`make up`), then:
#
#   bash examples/curl_tour.sh
#
# It logs two small runs through the SDK, then reads, compares, exports and changes them, manages
# members and keys, and shares a project publicly. Every step prints what it calls. The test
# suite runs this very script (tests/e2e/test_curl_tour.py), so it stays true.
set -euo pipefail
cd "$(dirname "$0")/.."

URL=${TRACKLANE_URL:-http://127.0.0.1:8080}
PY=${PYTHON:-.venv/bin/python}
CONFIG=${TRACKLANE_CONFIG_DIR:-$HOME/.config/tracklane}
KEY=${TRACKLANE_API_KEY:-$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$CONFIG/credentials.json")}
TAG=$(date +%s)
PROJECT="curl-tour-$TAG"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# api METHOD PATH [curl args…]: one call with the key, failing loudly on an HTTP error.
api() {
  local method=$1 path=$2
  shift 2
  echo "\$ curl -X $method $path $*" >&2
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" "$@" "$URL$path"
}
# field EXPR: reads JSON on stdin and prints EXPR of it (d is the document), e.g. field 'd["id"]'.
field() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
show() { "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=1)[:1200])'; }

step "1. Two small runs through the SDK (project $PROJECT)"
IDS=$("$PY" - "$PROJECT" <<'EOF'
import math, sys
import tracklane

ids = []
for lr in (0.1, 0.01):
    with tracklane.init(project=sys.argv[1], name=f"lr={lr}", tags=["tour"]) as exp:
        exp.log_params({"lr": lr, "batch": 64})
        for i in range(2_000):
            exp.log_scalar("loss", "train", math.exp(-lr * i / 100) + 0.01 * math.sin(i), iteration=i)
        exp.log_text("done")
    ids.append(exp.id)
print(" ".join(ids))
EOF
)
read -r A B <<<"$IDS"
echo "runs: $A $B"

step "2. Projects, and the experiment table with a filter, columns and a sort"
api GET "/api/v1/projects?search=$PROJECT" | show
api GET "/api/v1/experiments" -G --data-urlencode "project=$PROJECT" \
  --data-urlencode "filter=params.lr = '0.1' OR metrics.loss/train.min < 0.5" \
  --data-urlencode "columns=params.lr,metrics.loss/train.min,attributes.duration" \
  --data-urlencode "order_by=metrics.loss/train.min" | show

step "3. One experiment: info, scalars (2,000 points -> 100 buckets, then a zoom), configuration, console"
api GET "/api/v1/experiments/$A" | field 'd["name"], d["status"], d["metrics"]'
api GET "/api/v1/experiments/$A/scalars?metric=loss&variant=train&samples=100" \
  | field '[(s["total_points"], len(s["x"]), s["downsampled"]) for s in d["series"]]'
api GET "/api/v1/experiments/$A/scalars?metric=loss&variant=train&x_min=100&x_max=120" \
  | field '[(len(s["x"]), s["downsampled"]) for s in d["series"]]'
api GET "/api/v1/experiments/$A/configuration" | field 'd["hyperparameters"]'
api GET "/api/v1/experiments/$A/console?tail=5" | field '[line["text"] for line in d["lines"]]'

step "4. Compare the two runs, and export the project as CSV"
api GET "/api/v1/compare?ids=$A,$B&metric=loss&variant=train&samples=50" \
  | field '[(m["metric"], m["variant"], {k: round(v["min"], 4) for k, v in m["values"].items()}) for m in d["metrics"]]'
api GET "/api/v1/export?format=csv&shape=wide" -G --data-urlencode "project=$PROJECT" | head -3

step "5. Commands: rename, tag, publish (then edits are refused), archive, delete, restore, clear"
api PATCH "/api/v1/experiments/$A" -d '{"name": "baseline", "description": "lr 0.1"}' | field 'd["name"]'
api POST "/api/v1/experiments/$A/tags" -d '{"add": ["best"]}' | field 'd["tags"]'
api POST "/api/v1/experiments/$A/publish" | field 'd["published"]'
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $KEY" -d '{"name": "x"}' "$URL/api/v1/experiments/$A")
echo "renaming a published experiment answers $code"
api POST "/api/v1/experiments/$B/archive" | field 'd["archived"]'
api POST "/api/v1/experiments/$B/delete" | field 'd["deleted"]'
api POST "/api/v1/experiments/$B/restore" | field '(d["deleted"], d["archived"])'
api POST "/api/v1/experiments/$B/delete" >/dev/null
api POST "/api/v1/experiments/$B/clear" | show
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL/api/v1/experiments/$B")
echo "the cleared experiment now answers $code"

step "6. Members and keys: add a member, give them a key, see what it may do, remove them"
WS=$(api GET /api/v1/workspaces | field 'd["workspaces"][0]["id"]')
USER_NAME="tour-$TAG@example.com"
api PUT "/api/v1/workspaces/$WS/members/$USER_NAME" -d '{"role": "viewer"}' | show
MEMBER_KEY=$(api POST /api/v1/keys -d "{\"user\": \"$USER_NAME\", \"name\": \"laptop\", \"role\": \"viewer\"}" | field 'd["key"]')
api GET "/api/v1/workspaces/$WS/members" | field '[(m["user"], m["role"]) for m in d["members"]]'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $MEMBER_KEY" "$URL/api/v1/experiments/$A/archive")
echo "a viewer archiving answers $code"
api DELETE "/api/v1/workspaces/$WS/members/$USER_NAME" | show
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $MEMBER_KEY" "$URL/api/v1/experiments")
echo "their key after removal answers $code"

step "7. A public project: readable without any key, then private again"
api PATCH "/api/v1/projects/$PROJECT" -d '{"public": true, "description": "the curl tour"}' | show
curl -sS --fail-with-body "$URL/api/v1/experiments?workspace=$WS&project=$PROJECT" | field '[e["name"] for e in d["experiments"]]'
curl -sS --fail-with-body "$URL/api/v1/experiments/$A/scalars?metric=loss&variant=train&samples=10" \
  | field '[s["total_points"] for s in d["series"]]'
api PATCH "/api/v1/projects/$PROJECT" -d '{"public": false}' | field 'd["public"]'
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/experiments/$A")
echo "without a key it now answers $code"

step "Done. The OpenAPI description: $URL/api/v1/openapi.json"
