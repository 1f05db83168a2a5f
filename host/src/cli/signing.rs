//! `exorun plugin keygen|sign|verify`: minisign-compatible keys and signatures for plugin
//! artifacts. Options follow minisign's (`-p`, `-s`, `-P`, `-t`, `-x`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Args};

use exorun::atomic_file::Access;
use exorun::secret::{Secret, SecretSource};
use exorun::signing::{
    Placement, PublicKey, SecretKey, SecretKeyFile, Signature, content_digest, embed,
    embedded_signatures, sign_artifact, verify,
};

use super::cert::write_private;
use super::usage;

/// Options of `plugin keygen`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("where").required(true).args(["out_dir", "public_key"])))]
pub struct Keygen {
    /// Directory to write minisign.pub and minisign.key into (created if missing).
    #[arg(long, conflicts_with_all = ["public_key", "secret_key"])]
    out_dir: Option<PathBuf>,
    /// The public key file to write.
    #[arg(short = 'p', long, requires = "secret_key")]
    public_key: Option<PathBuf>,
    /// The secret key file to write (readable only by you).
    #[arg(short = 's', long, requires = "public_key")]
    secret_key: Option<PathBuf>,
    /// Leave the secret key unencrypted, like `minisign -G -W`: only its file's permissions
    /// protect it.
    #[arg(long, conflicts_with = "password_file")]
    no_password: bool,
    /// File holding the password to encrypt the secret key with (default: asked twice on the
    /// terminal).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Overwrite key files that exist.
    #[arg(short = 'f', long)]
    force: bool,
}

/// Options of `plugin sign`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("by").required(true).args(["secret_key", "signature"])))]
pub struct Sign {
    /// The plugin artifact (.wasm).
    plugin: PathBuf,
    /// The secret key to sign with (from `exorun plugin keygen` or `minisign -G`).
    #[arg(short = 's', long)]
    secret_key: Option<PathBuf>,
    /// File holding the secret key's password (default: asked on the terminal when the key is
    /// encrypted).
    #[arg(long, requires = "secret_key")]
    password_file: Option<PathBuf>,
    /// Embed this signature instead of making one: a .minisig that `minisign -S -m` wrote for
    /// the artifact before any signature was embedded in it.
    #[arg(long, value_name = "FILE.minisig", conflicts_with_all = ["trusted_comment", "detached"])]
    signature: Option<PathBuf>,
    /// Write the signature to a .minisig file (FILE, default PLUGIN.minisig) instead of
    /// embedding it. `minisign -V` checks it while the artifact carries no embedded signature.
    #[arg(long, value_name = "FILE", num_args = 0..=1, conflicts_with = "out")]
    detached: Option<Option<PathBuf>>,
    /// The trusted comment, signed with the artifact (default: timestamp and file name, as
    /// minisign writes it).
    #[arg(short = 't', long)]
    trusted_comment: Option<String>,
    /// Write the signed artifact here instead of replacing PLUGIN.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Options of `plugin verify`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("keys").required(true).multiple(true).args(["public_key", "public_key_base64"])))]
pub struct Verify {
    /// The plugin artifact (.wasm).
    plugin: PathBuf,
    /// A public key file whose holder must have signed; repeat it when several must have.
    #[arg(short = 'p', long, value_name = "PUBKEY")]
    public_key: Vec<PathBuf>,
    /// A public key as its base64 line (RW...), as `minisign -P` takes it; repeatable.
    #[arg(short = 'P', long, value_name = "BASE64")]
    public_key_base64: Vec<String>,
    /// A detached signature to check too (default: PLUGIN.minisig, when it exists).
    #[arg(short = 'x', long, value_name = "FILE.minisig")]
    signature: Option<PathBuf>,
}

impl Keygen {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let (public_path, secret_path) = match (self.out_dir, self.public_key, self.secret_key) {
            (Some(dir), _, _) => {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))
                    .map_err(usage)?;
                (dir.join("minisign.pub"), dir.join("minisign.key"))
            }
            (None, Some(public), Some(secret)) => (public, secret),
            _ => {
                return Err(usage(anyhow::anyhow!(
                    "where should the keys go?\n  fix: give --out-dir DIR, or -p PUB -s SEC"
                )));
            }
        };
        for path in [&public_path, &secret_path] {
            if path.exists() && !self.force {
                return Err(usage(anyhow::anyhow!(
                    "{} exists already\n  fix: give other paths, or --force to overwrite it",
                    path.display()
                )));
            }
        }
        let password = match (self.no_password, self.password_file) {
            (true, _) => None,
            (false, Some(file)) => Some(SecretSource::File(file).read().map_err(usage)?),
            (false, None) => Some(new_password()?),
        };
        if password.is_some() {
            eprintln!("exorun: encrypting the secret key (scrypt, 1 GiB, a few seconds)");
        }
        let key = SecretKey::generate()?;
        let secret_text = key.to_file_text(password.as_ref())?;
        if self.force {
            remove_if_present(&secret_path)?;
        }
        write_private(&secret_path, secret_text.expose())?;
        let public = key.public_key();
        replace(&public_path, public.to_file_text().as_bytes())?;
        let protection = if password.is_some() {
            "encrypted with your password"
        } else {
            "not encrypted: only its file permissions protect it"
        };
        println!("key id {}", key.key_id());
        println!(
            "  secret key: {}  (keep it secret; {protection})",
            secret_path.display()
        );
        println!(
            "  public key: {}  (give it to whoever verifies)",
            public_path.display()
        );
        println!(
            "  verify with: exorun plugin verify PLUGIN -P {0}\n           or: minisign -Vm FILE -P {0}",
            public.to_base64()
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// A new password, asked twice on the terminal.
fn new_password() -> anyhow::Result<Secret> {
    let fix =
        "give --password-file FILE, or --no-password for a key only its file permissions protect";
    let first = SecretSource::Prompt("Password for the new secret key".into())
        .read()
        .context(fix)
        .map_err(usage)?;
    let again = SecretSource::Prompt("Password (again)".into())
        .read()
        .context(fix)
        .map_err(usage)?;
    anyhow::ensure!(
        first == again,
        "the two passwords differ; nothing was written"
    );
    anyhow::ensure!(
        !first.expose().is_empty(),
        "the password is empty; nothing was written\n  fix: type one, or give --no-password"
    );
    Ok(first)
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot replace {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Reads a file named on the command line; failing is a usage error.
fn read_argument(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(usage)
}

fn read_text_argument(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_argument(path)?)
        .map_err(|_| usage(anyhow::anyhow!("{} is not text", path.display())))
}

impl Sign {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let artifact = read_argument(&self.plugin)?;
        let origin = self.plugin.display().to_string();
        let signature = match (&self.signature, &self.secret_key) {
            (Some(path), _) => Signature::parse(&read_text_argument(path)?, Placement::Detached)
                .with_context(|| format!("in {}", path.display()))
                .map_err(usage)?,
            (None, None) => {
                return Err(usage(anyhow::anyhow!(
                    "sign with which key?\n  fix: give -s SECRET_KEY, or --signature FILE.minisig"
                )));
            }
            (None, Some(path)) => {
                let key = self.unlock_key(path)?;
                let comment = match &self.trusted_comment {
                    Some(comment) => comment.clone(),
                    None => default_trusted_comment(&self.plugin),
                };
                sign_artifact(&artifact, &key, &comment, &origin)?
            }
        };
        let key_id = signature.key_id();
        if let Some(detached) = self.detached {
            let path = detached.unwrap_or_else(|| minisig_path(&self.plugin));
            replace(&path, signature.to_text().as_bytes())?;
            println!(
                "signed {origin} with key {key_id}: {} (content sha256 {})",
                path.display(),
                content_digest(&artifact)
            );
            if !embedded_signatures(&artifact).is_empty() {
                println!(
                    "  note: {origin} carries embedded signatures, so only `exorun plugin verify` \
                     checks this one (minisign -V would hash them too)"
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let signed = embed(&artifact, &signature, &origin)?;
        let target = self.out.unwrap_or_else(|| self.plugin.clone());
        replace(&target, &signed)?;
        let signers: Vec<String> = embedded_signatures(&signed)
            .into_iter()
            .flatten()
            .map(|s| s.key_id().to_string())
            .collect();
        println!(
            "signed {origin} with key {key_id}: {} (embedded; signed by {}; content sha256 {})",
            target.display(),
            signers.join(", "),
            content_digest(&signed)
        );
        Ok(ExitCode::SUCCESS)
    }

    fn unlock_key(&self, path: &Path) -> anyhow::Result<SecretKey> {
        let file = SecretKeyFile::parse(&read_text_argument(path)?)
            .with_context(|| format!("in {}", path.display()))
            .map_err(usage)?;
        let password = match (&self.password_file, file.is_encrypted()) {
            (_, false) => None,
            (Some(file), true) => Some(SecretSource::File(file.clone()).read().map_err(usage)?),
            (None, true) => Some(
                SecretSource::Prompt(format!("Password for {}", path.display()))
                    .read()
                    .context("the secret key is encrypted; give --password-file FILE")
                    .map_err(usage)?,
            ),
        };
        file.unlock(password.as_ref())
            .with_context(|| format!("cannot use the secret key {}", path.display()))
    }
}

/// minisign's default trusted comment: when, and which file.
fn default_trusted_comment(plugin: &Path) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = plugin
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!("timestamp:{seconds}\tfile:{name}\thashed")
}

/// `PLUGIN.minisig`, where minisign looks for a file's signature.
fn minisig_path(plugin: &Path) -> PathBuf {
    let mut path = plugin.as_os_str().to_owned();
    path.push(".minisig");
    PathBuf::from(path)
}

/// Writes `bytes` in place of `path` (a signature, a signed artifact, a public key), so a
/// reader sees the old file or the new one, never half of one.
fn replace(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    exorun::atomic_file::replace(path, bytes, Access::Shared)
        .with_context(|| format!("cannot write {}", path.display()))
}

impl Verify {
    /// Runs the command: exit 0 when every given key signed validly, 1 when not.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut keys = Vec::new();
        for path in &self.public_key {
            let key = PublicKey::parse(&read_text_argument(path)?)
                .with_context(|| format!("in {}", path.display()))
                .map_err(usage)?;
            keys.push(key);
        }
        for text in &self.public_key_base64 {
            keys.push(PublicKey::parse(text).map_err(usage)?);
        }
        let artifact = read_argument(&self.plugin)?;
        let origin = self.plugin.display().to_string();
        let detached_path = self.signature.clone().or_else(|| {
            let beside = minisig_path(&self.plugin);
            beside.is_file().then_some(beside)
        });
        let detached = detached_path
            .as_deref()
            .map(read_text_argument)
            .transpose()?;

        let verified = match verify(&artifact, detached.as_deref(), &keys) {
            Ok(verified) => verified,
            Err(error) => {
                eprintln!("FAILED  {origin}: {error}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let mut failed = false;
        for key in &keys {
            if let Err(error) = verified.require_signer(key.key_id()) {
                eprintln!("FAILED  {origin}: {error}");
                failed = true;
            }
        }
        if failed {
            return Ok(ExitCode::FAILURE);
        }
        println!(
            "ok      {origin}: signed by {} (content sha256 {})",
            if keys.len() == 1 {
                "the given key"
            } else {
                "every given key"
            },
            verified.content_digest
        );
        if let Some(path) = &detached_path {
            println!("  detached signature: {}", path.display());
        }
        for signer in &verified.signers {
            println!(
                "  {} ({}): {}",
                signer.key_id, signer.placement, signer.trusted_comment
            );
        }
        for other in &verified.untrusted {
            println!(
                "  note: also signed by key {} ({}), not one of the given keys, so not checked",
                other.key_id, other.placement
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
