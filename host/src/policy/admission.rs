//! Admission: the one function that decides whether an artifact may run under a policy. Every
//! front door (`exorun run`, a workflow, the coming service) calls [`Policy::vet`]; none decides
//! anything of its own. It checks, in this order: the signatures (a changed byte is reported as
//! the tampering it is), keys the policy revokes (whoever else signed), revoked digests, the
//! rule that admits the build, and what the manifest asks against what the rule grants (cmdlets,
//! parameters, limits). What it admits holds the very bytes it checked, so the runtime compiles
//! what was vetted and never reads the file again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Candidate, Grant, Policy, Refusal, Refused};
use crate::digest::sha256_hex;
use crate::plugin::artifact::{ArtifactError, read_manifest};
use crate::plugin::manifest::Manifest;
use crate::signing::{KeyId, PublicKey, SigningError, verify};

/// An artifact asking to run, as read from where it is kept: its bytes and its detached
/// signature (minisign's `FILE.minisig`), if it has one.
#[derive(Clone)]
pub struct Submitted {
    origin: String,
    path: Option<PathBuf>,
    bytes: Arc<[u8]>,
    detached: Option<String>,
}

impl Submitted {
    /// Reads the artifact at `path` once, and `PATH.minisig` beside it if there is one (where
    /// minisign puts a detached signature).
    pub fn read(path: &Path) -> Result<Submitted, AdmissionError> {
        let bytes = std::fs::read(path).map_err(|reason| AdmissionError::Read {
            path: path.to_path_buf(),
            reason,
        })?;
        let mut detached_path = path.as_os_str().to_owned();
        detached_path.push(".minisig");
        let detached_path = PathBuf::from(detached_path);
        let detached = match std::fs::read_to_string(&detached_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(reason) => {
                return Err(AdmissionError::Read {
                    path: detached_path,
                    reason,
                });
            }
        };
        Ok(Submitted {
            origin: path.display().to_string(),
            path: Some(path.to_path_buf()),
            bytes: bytes.into(),
            detached,
        })
    }

    /// An artifact already in memory (a plugin store, a test), named `origin` in messages.
    pub fn from_bytes(
        origin: impl Into<String>,
        bytes: impl Into<Arc<[u8]>>,
        detached: Option<String>,
    ) -> Submitted {
        Submitted {
            origin: origin.into(),
            path: None,
            bytes: bytes.into(),
            detached,
        }
    }
}

/// A plugin the policy admits: its rights, and the bytes that were checked.
#[derive(Clone)]
pub struct Vetted {
    /// What it may do.
    pub grant: Grant,
    /// The manifest read from the checked bytes.
    pub manifest: Manifest,
    /// Its content digest (without signatures): what a policy or a workflow step pins.
    pub content_digest: String,
    /// The sha256 of the whole artifact as checked.
    pub file_digest: String,
    origin: String,
    bytes: Arc<[u8]>,
}

impl std::fmt::Debug for Vetted {
    /// Everything but the artifact's bytes, which are only counted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vetted")
            .field("grant", &self.grant)
            .field("manifest", &self.manifest.name)
            .field("content_digest", &self.content_digest)
            .field("file_digest", &self.file_digest)
            .field("origin", &self.origin)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Vetted {
    /// The bytes that were checked: the only thing the runtime should compile.
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// Where the artifact was read from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Why an artifact may not run.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// The artifact or its detached signature cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not a source said twice).
        reason: io::Error,
    },
    /// A signature on it does not verify (tampered, or malformed).
    #[error("plugin {origin} is refused: {reason}")]
    Signature {
        /// Where the artifact came from.
        origin: String,
        /// What is wrong with the signature (in the message, so not a source said twice).
        reason: SigningError,
    },
    /// It is not a packed plugin.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A key that signed it is revoked by the policy.
    #[error(
        "plugin {plugin} {version} ({origin}) is refused: it is signed by key {key}, which {policy} revokes (line {line})"
    )]
    RevokedKey {
        /// The plugin's name.
        plugin: String,
        /// Its version.
        version: String,
        /// Where the artifact came from.
        origin: String,
        /// The revoked key.
        key: KeyId,
        /// The policy file.
        policy: String,
        /// The line that revokes the key.
        line: usize,
    },
    /// Its digest is revoked, no rule admits it, or it asks for more than its rule grants.
    #[error("{0}")]
    Refused(Box<NotAdmitted>),
}

/// A plugin the policy's rules refuse, with what its message needs.
#[derive(Debug)]
pub struct NotAdmitted {
    /// Why.
    pub refusal: Refusal,
    /// Its manifest, for the message.
    pub manifest: Manifest,
    /// Its content digest.
    pub content_digest: String,
    /// Signatures on it by keys the policy does not trust.
    pub untrusted: Vec<KeyId>,
    /// The policy file.
    pub policy: String,
    /// The artifact's file, for hints that give a command to paste.
    pub path: Option<PathBuf>,
}

impl std::fmt::Display for NotAdmitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let candidate = Candidate {
            manifest: &self.manifest,
            digest: &self.content_digest,
            signers: &[],
            file: self.path.as_deref(),
        };
        write!(
            f,
            "{}",
            Refused {
                refusal: &self.refusal,
                candidate
            }
        )?;
        if !self.untrusted.is_empty() {
            let ids: Vec<String> = self.untrusted.iter().map(KeyId::to_string).collect();
            write!(
                f,
                "\n  It carries signatures by keys {} does not trust: {} (add a key to [trusted_keys] if you trust it)",
                self.policy,
                ids.join(", ")
            )?;
        }
        Ok(())
    }
}

impl Policy {
    /// Admits `artifact` or says why it may not run: a signature that no longer matches, a key
    /// or digest the policy revokes, no rule for this build, or more asked than granted.
    pub fn vet(&self, artifact: Submitted) -> Result<Vetted, AdmissionError> {
        let Submitted {
            origin,
            path,
            bytes,
            detached,
        } = artifact;
        let keys: Vec<PublicKey> = self.trusted_keys().map(|(_, key)| key.clone()).collect();
        // Signatures first: a changed manifest is reported as the tampering it is.
        let verified = verify(&bytes, detached.as_deref(), &keys).map_err(|reason| {
            AdmissionError::Signature {
                origin: origin.clone(),
                reason,
            }
        })?;
        let manifest = read_manifest(&bytes, &origin)?;
        let every_key = verified
            .signers
            .iter()
            .map(|s| s.key_id)
            .chain(verified.untrusted.iter().map(|u| u.key_id));
        for key in every_key {
            if let Some(line) = self.revokes_key(key) {
                return Err(AdmissionError::RevokedKey {
                    plugin: manifest.name.clone(),
                    version: manifest.version.clone(),
                    origin,
                    key,
                    policy: self.origin().to_string(),
                    line,
                });
            }
        }
        let signers: Vec<String> = verified
            .signers
            .iter()
            .filter_map(|s| self.key_name(s.key_id).map(str::to_string))
            .collect();
        let candidate = Candidate {
            manifest: &manifest,
            digest: &verified.content_digest,
            signers: &signers,
            file: path.as_deref(),
        };
        let grant = match self.admit(candidate) {
            Ok(grant) => grant,
            Err(refusal) => {
                return Err(AdmissionError::Refused(Box::new(NotAdmitted {
                    refusal,
                    manifest,
                    content_digest: verified.content_digest,
                    untrusted: verified.untrusted.iter().map(|u| u.key_id).collect(),
                    policy: self.origin().to_string(),
                    path,
                })));
            }
        };
        Ok(Vetted {
            grant,
            manifest,
            content_digest: verified.content_digest,
            file_digest: sha256_hex(&bytes),
            origin,
            bytes,
        })
    }
}
