"""The plain Python client `cargo bench -p exorun --bench cli` measures exorun's output against.

Usage: python3 python_client.py READY_JSON_FILE [RESULT_SIZE]

Signs in with msal as the emulator's admin app (certificate), runs
`Get-Mailbox -ResultSize RESULT_SIZE` (default Unlimited) with requests the way exorun does
(POST InvokeCommand, 1000-row pages, following @odata.nextLink with the same body) and writes
each row to stdout as one JSON line without its @-annotation keys, like
`exorun invoke ... --output jsonl`. The caller must unset REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE,
or requests ignores verify= (docs/protocol.md section 6).
"""

import json
import sys

import msal
import requests


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def main():
    ready = json.loads(read(sys.argv[1]))
    result_size = sys.argv[2] if len(sys.argv) > 2 else "Unlimited"
    result_size = int(result_size) if result_size.isdigit() else result_size
    admin = next(a for a in ready["tenants"][0]["apps"] if a["name"] == "exorun-admin")
    app = msal.ConfidentialClientApplication(
        admin["client_id"],
        client_credential={"private_key": read(admin["private_key"]), "public_certificate": read(admin["certificate"])},
        authority=f"{ready['base_url']}/{ready['tenant_domain']}",
        instance_discovery=False,
        verify=ready["ca_file"],
    )
    token = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    if "access_token" not in token:
        sys.exit(f"no token: {token.get('error_description')}")

    session = requests.Session()
    session.verify = ready["ca_file"]
    headers = {"Authorization": f"Bearer {token['access_token']}", "Prefer": "odata.maxpagesize=1000"}
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": result_size}}}
    sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    out = sys.stdout
    url = ready["exchange_url"]
    while url:
        resp = session.post(url, json=body, headers=headers)
        resp.raise_for_status()
        page = resp.json()
        for row in page["value"]:
            line = {k: v for k, v in row.items() if "@" not in k}
            out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
            out.write("\n")
        url = page.get("@odata.nextLink")


if __name__ == "__main__":
    main()
