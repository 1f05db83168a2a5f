#!/usr/bin/env bash
# The demo: installs prerequisites, builds exorun and its Exchange Online emulator, starts the
# emulator, and runs exorun against it the way an admin would: certificate sign-in, a checkup,
# cmdlets streamed page by page, plugins under an operator's policy, workflows (an inventory in
# parallel streams with its HTML report, an offboarding dry run and then the real one), and the
# audit log they all wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh --demo
# exorun and the emulator build while the plugins (a workspace of their own) build beside them;
# the plugins are packed with the exorun just built.
cargo build --quiet -p exorun -p exorun-sim &
host_build=$!
bash scripts/build-plugins.sh --no-pack >/dev/null
wait $host_build
bin=target/debug
EXORUN=$bin/exorun bash scripts/build-plugins.sh --pack-only >/dev/null

state=$(mktemp -d)
"$bin/exorun-sim" --state-dir "$state" --mailboxes "${MAILBOXES:-5000}" > "$state/ready.json" 2> "$state/sim.log" &
sim=$!
trap 'kill $sim 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 100); do [ -s "$state/ready.json" ] && break; sleep 0.1; done
[ -s "$state/ready.json" ] || { cat "$state/sim.log" >&2; exit 1; }

ready() { python3 -c "import json,sys; r=json.load(open('$state/ready.json')); print(eval(sys.argv[1]))" "$1"; }
admin='[a for a in r["tenants"][0]["apps"] if a["name"]=="exorun-admin"][0]'
export AZURE_AUTHORITY_HOST=$(ready 'r["base_url"]')
export EXORUN_EXCHANGE_URL=$AZURE_AUTHORITY_HOST
export EXORUN_COMPLIANCE_URL=$AZURE_AUTHORITY_HOST/compliance
export EXORUN_CA_FILE=$(ready 'r["ca_file"]')
export AZURE_TENANT_ID=$(ready 'r["tenant_domain"]')
export AZURE_CLIENT_ID=$(ready "$admin[\"client_id\"]")
export EXORUN_AUDIT_LOG=$state/audit.jsonl
cert=(--certificate "$(ready "$admin[\"pfx\"]")" --certificate-password-file "$(ready "$admin[\"pfx_password_file\"]")")

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step exorun connect --test
"$bin/exorun" "${cert[@]}" connect --test
step exorun doctor
"$bin/exorun" "${cert[@]}" doctor
step exorun invoke Get-Mailbox -RecipientTypeDetails SharedMailbox -ResultSize 5
"$bin/exorun" "${cert[@]}" invoke Get-Mailbox -RecipientTypeDetails SharedMailbox -ResultSize 5
step "exorun invoke Get-Mailbox -ResultSize Unlimited --output csv --property UserPrincipalName,RecipientTypeDetails,ForwardingSmtpAddress > mailboxes.csv"
start=$(date +%s%N)
"$bin/exorun" "${cert[@]}" invoke Get-Mailbox -ResultSize Unlimited --output csv \
  --property UserPrincipalName,RecipientTypeDetails,ForwardingSmtpAddress > "$state/mailboxes.csv"
echo "$(($(wc -l < "$state/mailboxes.csv") - 1)) mailboxes in $((($(date +%s%N) - start) / 1000000)) ms"
head -4 "$state/mailboxes.csv"
step exorun invoke Get-MailboxPermission -Identity "$(sed -n 2p "$state/mailboxes.csv" | cut -d, -f1)"
"$bin/exorun" "${cert[@]}" invoke Get-MailboxPermission -Identity "$(sed -n 2p "$state/mailboxes.csv" | cut -d, -f1)"
step exorun invoke --dry-run Set-Mailbox -Identity room1 -HiddenFromAddressListsEnabled '$true'
"$bin/exorun" "${cert[@]}" invoke --dry-run Set-Mailbox -Identity room1 -HiddenFromAddressListsEnabled '$true'

step exorun plugin inspect target/plugins/mailbox-permission-audit.wasm
"$bin/exorun" plugin inspect target/plugins/mailbox-permission-audit.wasm
step "exorun plugin check target/plugins/*.wasm   # compile (cached) and start each in an empty sandbox"
"$bin/exorun" plugin check target/plugins/*.wasm --cache-dir "$state/cache"
step "exorun policy init target/plugins/*.wasm --out policy.toml   # pin each build with exactly what it asks for"
"$bin/exorun" policy init target/plugins/*.wasm --out "$state/policy.toml"
# Narrow it as an operator would: auto-reply may change only mailboxes of contoso.com.
sed -i '/^name = "auto-reply"/,/^\[\[plugin\]\]/ s/^Identity = {}.*/Identity = { glob = "*@contoso.com", required = true }/' "$state/policy.toml"
export EXORUN_POLICY=$state/policy.toml
step "exorun policy check && exorun policy explain target/plugins/auto-reply.wasm"
"$bin/exorun" policy check
"$bin/exorun" policy explain target/plugins/auto-reply.wasm
step "exorun run target/plugins/mailbox-permission-audit.wasm --input '{\"identities\": [...]}'"
shared=$(grep -m3 ',SharedMailbox,' "$state/mailboxes.csv" | cut -d, -f1 | python3 -c 'import json,sys; print(json.dumps({"identities": sys.stdin.read().split()}))')
"$bin/exorun" "${cert[@]}" run target/plugins/mailbox-permission-audit.wasm --input "$shared" --cache-dir "$state/cache"
step "exorun run target/plugins/stale-mailboxes.wasm --input '{\"days\": 180}' --output csv   # a Python plugin"
"$bin/exorun" "${cert[@]}" run target/plugins/stale-mailboxes.wasm --input '{"days": 180}' --output csv --cache-dir "$state/cache" > "$state/stale.csv"
head -6 "$state/stale.csv"
step "exorun run --dry-run target/plugins/auto-reply.wasm ...   # recorded, not sent; outside the policy: denied, so exit 1"
"$bin/exorun" "${cert[@]}" run --dry-run target/plugins/auto-reply.wasm --cache-dir "$state/cache" \
  --input "{\"identities\": [\"$(sed -n 2p "$state/mailboxes.csv" | cut -d, -f1)\", \"ceo@fabrikam.com\"], \"state\": \"Enabled\", \"internal_message\": \"Out until Monday\"}" \
  || echo "(exit $?: the refused change is work not done, so the run is not reported as a success)"
step "exorun run target/plugins/hostile.wasm --input '{\"attempt\": \"undeclared\"}'   # the sandbox refuses"
"$bin/exorun" "${cert[@]}" run target/plugins/hostile.wasm --input '{"attempt": "undeclared"}' --cache-dir "$state/cache" --output json

# Runs (journals, records, HTML reports) stay after the demo, to be opened.
runs=target/demo-runs
rm -rf "$runs"
step "exorun workflow run examples/workflows/mailbox-inventory.toml   # 37 parallel streams, every mailbox once, a report with charts"
"$bin/exorun" "${cert[@]}" workflow run examples/workflows/mailbox-inventory.toml --cache-dir "$state/cache" --runs-dir "$runs"
# A leaver whose manager the directory knows, so the manager gets access.
leaver=$("$bin/exorun" "${cert[@]}" invoke Get-User -RecipientTypeDetails UserMailbox -Filter 'Manager -ne $null' -ResultSize 1 --output csv --property UserPrincipalName | sed -n 2p)
step "exorun workflow run examples/workflows/offboard-user.toml --input user=$leaver --dry-run   # the plan: nothing is sent"
"$bin/exorun" "${cert[@]}" workflow run examples/workflows/offboard-user.toml --input "user=$leaver" --dry-run --cache-dir "$state/cache" --runs-dir "$runs"
step "exorun workflow run examples/workflows/offboard-user.toml --input user=$leaver"
"$bin/exorun" "${cert[@]}" workflow run examples/workflows/offboard-user.toml --input "user=$leaver" --cache-dir "$state/cache" --runs-dir "$runs"
step "exorun workflow runs   # each run's journal: a killed run resumes with exorun workflow resume ID"
"$bin/exorun" workflow runs --runs-dir "$runs"

# The service: one process holds the credential; people get exactly what the caller rules grant.
svc=$state/service
mkdir -p "$svc/store"
cp target/plugins/auto-reply.wasm target/plugins/offboard-mailbox.wasm target/plugins/echo.wasm "$svc/store/"
cat > "$svc/config.toml" <<TOML
default_profile = "admin"
[profiles.admin]
app_id = "$AZURE_CLIENT_ID"
organization = "$AZURE_TENANT_ID"
certificate_path = "$(ready "$admin[\"pfx\"]")"
certificate_password_file = "$(ready "$admin[\"pfx_password_file\"]")"
authority = "$AZURE_AUTHORITY_HOST"
exchange_url = "$EXORUN_EXCHANGE_URL"
compliance_url = "$EXORUN_COMPLIANCE_URL"
ca_file = "$EXORUN_CA_FILE"
TOML
# The service's API app and two people in the emulator's Entra ID: Ann (helpdesk), Bob (approver).
control=$(ready 'r["control_url"]')
helpdesk=7d9c0f8e-0b43-4f59-9a51-3f7f4c1e2a10 approvers=3c1e5a7b-2d4f-4e6a-8b0c-9d1e2f3a4b5c api=2b0f7a4c-86d4-4a39-8f1e-9e7c2d5a1b30
sim_post() { curl -sf --cacert "$EXORUN_CA_FILE" -H 'content-type: application/json' -d "$2" "$control/$1" > /dev/null; }
sim_post entra/apis "{\"name\": \"exorun\", \"client_id\": \"$api\", \"app_id_uri\": \"api://exorun\", \"token_version\": 2}"
sim_post entra/users "{\"upn\": \"ann@contoso.com\", \"groups\": [\"$helpdesk\"]}"
sim_post entra/users "{\"upn\": \"bob@contoso.com\", \"groups\": [\"$approvers\"]}"
# What `az account get-access-token --resource api://exorun` prints for each of them, here from the emulator.
token_of() { echo "curl -s --cacert $EXORUN_CA_FILE -H content-type:application/json -d '{\"resource\":\"api://exorun\",\"user\":\"$1\"}' $control/entra/caller-tokens"; }
# The service's TLS certificate, from the emulator's CA (any CA the callers trust will do).
openssl req -new -newkey rsa:2048 -nodes -keyout "$svc/tls.key" -subj /CN=localhost -out "$svc/tls.csr" 2> /dev/null
openssl x509 -req -in "$svc/tls.csr" -CA "$state/ca.pem" -CAkey "$state/ca.key" -days 1 -out "$svc/tls.pem" \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n') 2> /dev/null
{ cat "$state/policy.toml"; cat <<TOML

[[caller]]
name = "helpdesk auto-replies"
who = ["unix-user:$(id -un)", "group:$helpdesk"]
plugins = ["auto-reply"]
[caller.inputs]
identities = { glob = "*@contoso.com", required = true }
state = { values = ["Enabled", "Disabled"] }
internal_message = {}

[[caller]]
name = "offboarding"
who = ["group:$helpdesk"]
plugins = ["offboard-mailbox"]
approvers = ["group:$approvers"]
[caller.inputs]
identity = { glob = "*@contoso.com", required = true }
convert_to_shared = {}
hide_from_address_lists = {}
TOML
} > "$svc/policy.toml"
cat > "$svc/serve.toml" <<TOML
config = "config.toml"
policy = "policy.toml"
plugins = "store"
audit_log = "$EXORUN_AUDIT_LOG"
state_dir = "state"
socket = "exorun.sock"
[https]
listen = "127.0.0.1:0"
certificate = "tls.pem"
key = "tls.key"
[entra]
tenant = "$(ready 'r["tenant_id"]')"
audience = "$api"
authority = "$AZURE_AUTHORITY_HOST"
ca_file = "$EXORUN_CA_FILE"
TOML
step "exorun policy explain --caller ann@contoso.com --group $helpdesk   # what Ann may ask the service for"
"$bin/exorun" policy explain --policy "$svc/policy.toml" --caller ann@contoso.com --group "$helpdesk"
step "exorun serve --config serve.toml &   # the credential, the policy, the store, a queue in SQLite"
"$bin/exorun" serve --config "$svc/serve.toml" 2> "$svc/serve.log" &
serve=$!
trap 'kill $serve $sim 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 100); do grep -q 'listening on' "$svc/serve.log" && break; sleep 0.1; done
head -1 "$svc/serve.log"
https=$(grep -o 'https://[0-9.:]*' "$svc/serve.log")
user=$(sed -n 3p "$state/mailboxes.csv" | cut -d, -f1)
step "exorun run --server unix:exorun.sock auto-reply --input ...   # as $(id -un): no certificate on this side"
EXORUN_SERVER=unix:$svc/exorun.sock "$bin/exorun" run auto-reply --input "{\"identities\": [\"$user\"], \"state\": \"Enabled\", \"internal_message\": \"Back on Monday\"}"
step "exorun run --server unix:exorun.sock echo   # no caller rule grants it: refused, nothing sent"
EXORUN_SERVER=unix:$svc/exorun.sock "$bin/exorun" run echo || echo "(exit $?)"
export EXORUN_SERVER=$https EXORUN_SERVER_CA_FILE=$EXORUN_CA_FILE
step "Ann: exorun run --server $https offboard-mailbox --input ...   # needs Bob's approval"
id=$(EXORUN_ACCESS_TOKEN_COMMAND=$(token_of ann@contoso.com) "$bin/exorun" run offboard-mailbox --input "{\"identity\": \"$user\", \"convert_to_shared\": true}")
for _ in $(seq 100); do EXORUN_ACCESS_TOKEN_COMMAND=$(token_of bob@contoso.com) "$bin/exorun" runs approve | grep -q "$id" && break; sleep 0.1; done
step "Ann: exorun runs approve $id   # her own request: refused"
EXORUN_ACCESS_TOKEN_COMMAND=$(token_of ann@contoso.com) "$bin/exorun" runs approve "$id" || echo "(exit $?)"
step "Bob: exorun runs approve   # what waits for him"
EXORUN_ACCESS_TOKEN_COMMAND=$(token_of bob@contoso.com) "$bin/exorun" runs approve
step "Bob: exorun runs approve $id --comment 'HR ticket 4711'   # he sees the plan, then approves it"
EXORUN_ACCESS_TOKEN_COMMAND=$(token_of bob@contoso.com) "$bin/exorun" runs approve "$id" --comment 'HR ticket 4711'
for _ in $(seq 100); do EXORUN_ACCESS_TOKEN_COMMAND=$(token_of ann@contoso.com) "$bin/exorun" runs | grep "$id" | grep -q succeeded && break; sleep 0.1; done
step "Ann: exorun runs"
EXORUN_ACCESS_TOKEN_COMMAND=$(token_of ann@contoso.com) "$bin/exorun" runs
unset EXORUN_SERVER EXORUN_SERVER_CA_FILE
kill $serve; wait $serve 2>/dev/null
step "exorun audit show --caller ann@contoso.com   # who asked, who approved, what was refused"
"$bin/exorun" audit show --caller ann@contoso.com

step "exorun audit show --plugin auto-reply   # every token, cmdlet, denial and run is in a hash-chained log"
"$bin/exorun" audit show --plugin auto-reply
step exorun audit verify
"$bin/exorun" audit verify
