//! The examples shown at the end of `--help`: command lines an admin can copy, written for a
//! POSIX shell (PowerShell values such as `$false` are single-quoted so the shell leaves them).

/// `exorun connect --help`.
pub const CONNECT: &str = "\
Examples:
  # A certificate (PFX) and its password file; --test also runs Get-OrganizationConfig
  exorun connect --app-id 1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30 --organization contoso.onmicrosoft.com \\
      --certificate /etc/exorun/automation.pfx --certificate-password-file /etc/exorun/automation.pfx-password --test

  # The same from the variables the Azure SDKs read
  export AZURE_CLIENT_ID=1f7e0b59-3c3a-4d8e-9a57-2b4c8d1e6f30 AZURE_TENANT_ID=contoso.onmicrosoft.com
  export AZURE_CLIENT_CERTIFICATE_PATH=/etc/exorun/automation.pem
  exorun connect --test

  # A profile from ~/.config/exorun/config.toml, signing in to Security & Compliance
  exorun connect --profile contoso --compliance";

/// `exorun invoke --help`.
pub const INVOKE: &str = "\
Examples:
  exorun invoke Get-Mailbox -ResultSize Unlimited --output csv > mailboxes.csv
  exorun invoke Get-Mailbox -RecipientTypeDetails SharedMailbox --property UserPrincipalName,PrimarySmtpAddress
  exorun invoke Get-Mailbox -Filter 'HiddenFromAddressListsEnabled -eq $true' --output jsonl

  # Changes: rehearse with --dry-run first. Quote $false in bash, or the shell expands it to nothing
  exorun invoke Set-Mailbox -Identity ann@contoso.com -HiddenFromAddressListsEnabled '$false' --dry-run
  exorun invoke Set-Mailbox -Identity ann@contoso.com -HiddenFromAddressListsEnabled '$false'

  exorun invoke --compliance Get-ComplianceSearch --output json";

/// `exorun run --help`.
pub const RUN: &str = "\
Examples:
  exorun run target/plugins/mailbox-inventory.wasm --input '{\"statistics\": true}' --output csv
  exorun run target/plugins/mailbox-permission-audit.wasm --config ignore_trustees=svc-backup --output jsonl
  exorun run target/plugins/auto-reply.wasm --input @auto-reply.json --dry-run
  exorun run target/plugins/stale-mailboxes.wasm --input '{\"days\": 180}' --timeout 2h --memory 256MiB

  `exorun plugin inspect PLUGIN` shows the input a plugin takes and the settings it reads.";

/// `exorun audit verify --help`.
pub const AUDIT_VERIFY: &str = "\
Examples:
  exorun audit verify
  # With the head an earlier run printed (audit: … head HASH), kept elsewhere
  exorun audit verify --audit-log /var/log/exorun/audit.jsonl \\
      --head 3f2a9c0e5b7d41e8a6f2c9d3b1e0a4f7c8d2e6b9a1f3c5d7e0b2a4c6e8f1a3b5
  # Every record's MAC too, with the key the log was written with
  exorun audit verify --key /etc/exorun/audit.key";

/// `exorun audit show --help`.
pub const AUDIT_SHOW: &str = "\
Examples:
  exorun audit show --since 24h
  exorun audit show --plugin auto-reply --denied
  exorun audit show --run 7c1e5a2b --output jsonl";
