//! A starting policy for given plugins: each pinned by its digest and granted exactly what its
//! manifest requests, with comments showing how to narrow it.

use std::fmt::Write as _;

use crate::plugin::manifest::Manifest;

/// The policy text admitting each `(manifest, digest)` with exactly what it requests.
pub fn starting_policy(plugins: &[(Manifest, String)]) -> String {
    let mut text = String::from(
        "# exorun policy: which plugins may run against the tenant, and what each may do.\n\
         # Deny by default: a plugin no [[plugin]] rule admits does not run.\n\
         # Written by `exorun policy init`; check it with `exorun policy check`.\n\
         \n\
         # Builds that must never run again, even if signed, and keys whose signatures refuse a build:\n\
         # revoked = [\"<sha256>\"]\n\
         # revoked_keys = [\"<key id>\"]\n\
         \n\
         # Keys whose signatures you trust (minisign public keys, the base64 line of the .pub file):\n\
         # [trusted_keys]\n\
         # security-review = \"RW...\"\n",
    );
    for (manifest, digest) in plugins {
        let _ = write!(
            text,
            "\n[[plugin]]\n\
             name = \"{name}\"  # {version}: {description}\n\
             digest = \"{digest}\"  # this exact build; or admit builds by signer:\n\
             # signed_by = [\"security-review\"]\n\
             # profile = \"reader\"  # run it with this credential profile (least privilege)\n\
             # read_only = true  # refuse every changing cmdlet\n\
             # max_mutations = 100  # changes one run may make\n\
             # scope = \"RecipientTypeDetails -eq 'UserMailbox' -and -not (MemberOfGroup -eq 'Tenant Admins')\"  # recipients it may change\n\
             # narrow = true  # run with what is granted even if the manifest asks for more\n",
            name = manifest.name,
            version = manifest.version,
            description = manifest.description.replace('\n', " "),
        );
        let memory = manifest.limits.memory_mb.unwrap_or(64);
        let timeout = manifest.limits.timeout_secs.unwrap_or(600);
        let _ = write!(
            text,
            "[plugin.limits]\nmemory_mb = {memory}\ntimeout_secs = {timeout}\n# fuel = 10_000_000_000\n"
        );
        if !manifest.config.is_empty() {
            text.push_str("[plugin.config]  # settings it may be given (--config key=value)\n");
            for key in &manifest.config {
                let _ = writeln!(
                    text,
                    "{} = {{}}  # {}; e.g. {{ values = [\"a\", \"b\"] }} or {{ glob = \"svc-*\" }}",
                    toml_key(&key.key),
                    key.description.replace('\n', " ")
                );
            }
        }
        for cmdlet in &manifest.cmdlets {
            let _ = writeln!(text, "\n[[plugin.cmdlet]]\nname = \"{}\"", cmdlet.name);
            if cmdlet.compliance {
                text.push_str("compliance = true\n");
            }
            text.push_str("[plugin.cmdlet.parameters]\n");
            for parameter in &cmdlet.parameters {
                let _ = writeln!(text, "{parameter} = {{}}{}", hint(parameter));
            }
        }
    }
    text
}

/// A comment suggesting a constraint for common parameters.
fn hint(parameter: &str) -> &'static str {
    match parameter.to_ascii_lowercase().as_str() {
        "identity" | "user" | "trustee" => {
            "  # e.g. { glob = \"*@contoso.com\" } to limit the targets"
        }
        "resultsize" => "  # e.g. { max = 5000 } to cap a listing",
        _ => "",
    }
}

/// A TOML key: bare when it can be.
fn toml_key(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("\"{key}\"")
    }
}
