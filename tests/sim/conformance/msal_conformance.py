"""Independent-client conformance: Python msal and requests against a running exorun-sim.

Usage: python3 msal_conformance.py READY_JSON_FILE
Prints one JSON object with the outcome of each check. The caller must unset
REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, or requests ignores verify= (docs/protocol.md section 6).
"""

import json
import sys

import msal
import requests

EXO = ["https://outlook.office365.com/.default"]


def app_named(ready, name):
    return next(a for a in ready["tenants"][0]["apps"] if a["name"] == name)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def client(ready, client_id, credential, tenant):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{ready['base_url']}/{tenant}",
        instance_discovery=False,
        verify=ready["ca_file"],
    )


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        ready = json.load(f)
    admin = app_named(ready, "exorun-admin")
    reader = app_named(ready, "exorun-reader")
    key, cert = read(admin["private_key"]), read(admin["certificate"])
    out = {}

    ps256 = client(ready, admin["client_id"], {"private_key": key, "public_certificate": cert}, ready["tenant_domain"])
    r = ps256.acquire_token_for_client(scopes=EXO)
    out["ps256_x5c"] = "access_token" in r
    token = r.get("access_token")
    out["cached_second_call"] = ps256.acquire_token_for_client(scopes=EXO).get("token_source") == "cache"

    rs256 = client(ready, admin["client_id"], {"private_key": key, "thumbprint": admin["thumbprint"]}, ready["tenant_id"])
    out["rs256_x5t"] = "access_token" in rs256.acquire_token_for_client(scopes=EXO)

    secret = client(ready, admin["client_id"], read(admin["secret_file"]).strip(), ready["tenant_id"])
    out["secret"] = "access_token" in secret.acquire_token_for_client(scopes=EXO)

    wrong = client(
        ready,
        admin["client_id"],
        {"private_key": read(reader["private_key"]), "public_certificate": read(reader["certificate"])},
        ready["tenant_id"],
    )
    out["wrong_certificate"] = wrong.acquire_token_for_client(scopes=EXO)

    unknown = client(ready, "Payroll Sync", read(admin["secret_file"]).strip(), ready["tenant_id"])
    out["unknown_app"] = unknown.acquire_token_for_client(scopes=EXO)

    session = requests.Session()
    session.verify = ready["ca_file"]
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}}
    url, seen = ready["exchange_url"], set()
    while url:
        resp = session.post(url, json=body, headers={"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=250"})
        resp.raise_for_status()
        page = resp.json()
        seen.update(row["Guid"] for row in page["value"])
        url = page.get("@odata.nextLink")
    out["mailboxes_paged"] = len(seen)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
