#!/usr/bin/env bash
# The demo: installs prerequisites, builds exorun and its Exchange Online emulator, starts the
# emulator, and runs exorun against it the way an admin would: certificate sign-in, a checkup,
# cmdlets streamed page by page, plugins under an operator's policy, workflows (an inventory in
# parallel streams with its HTML report, an offboarding dry run and then the real one), and the
# audit log they all wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
cargo build --quiet -p exorun -p exorun-sim
bash scripts/build-plugins.sh >/dev/null
bin=target/debug

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

step "exorun audit show --plugin auto-reply   # every token, cmdlet, denial and run is in a hash-chained log"
"$bin/exorun" audit show --plugin auto-reply
step exorun audit verify
"$bin/exorun" audit verify
