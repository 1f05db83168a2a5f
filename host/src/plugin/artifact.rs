//! The plugin artifact: a WebAssembly component with its manifest packed in as a custom section
//! (`exorun-manifest`), so one file carries both, its digest covers both, and the manifest can be
//! read without instantiating anything.

use openssl::sha::sha256;
use wasmparser::{Parser, Payload};

use super::manifest::{Manifest, ManifestError};

/// Name of the custom section holding the manifest (TOML text).
pub const MANIFEST_SECTION: &str = "exorun-manifest";

/// Why an artifact is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Not a WebAssembly component.
    #[error("{0} is not a WebAssembly component ({1})")]
    NotAComponent(String, String),
    /// No manifest inside.
    #[error("{0} carries no exorun manifest: pack it with `exorun plugin pack`")]
    NoManifest(String),
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest section is not UTF-8.
    #[error("the manifest in {0} is not UTF-8 text")]
    NotText(String),
}

/// The SHA-256 of an artifact, lowercase hex: what policies pin.
pub fn digest(bytes: &[u8]) -> String {
    sha256(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The custom sections of the outermost component (nested modules are the plugin's own code).
fn top_level_sections(bytes: &[u8], origin: &str) -> Result<Vec<(String, Vec<u8>)>, ArtifactError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(ArtifactError::NotAComponent(
            origin.into(),
            "it does not start with the WebAssembly header `\\0asm`: give the .wasm file that scripts/build-plugins.sh or `exorun plugin pack` wrote".into(),
        ));
    }
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut is_component = false;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload =
            payload.map_err(|e| ArtifactError::NotAComponent(origin.into(), e.to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 {
                    is_component = matches!(encoding, wasmparser::Encoding::Component);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::CustomSection(reader) if depth == 1 => {
                found.push((reader.name().to_string(), reader.data().to_vec()))
            }
            _ => {}
        }
    }
    if !is_component {
        return Err(ArtifactError::NotAComponent(
            origin.into(),
            "it is a core module or another format".into(),
        ));
    }
    Ok(found)
}

/// Reads the manifest packed in an artifact.
pub fn read_manifest(bytes: &[u8], origin: &str) -> Result<Manifest, ArtifactError> {
    let sections = top_level_sections(bytes, origin)?;
    let (_, data) = sections
        .into_iter()
        .find(|(name, _)| name == MANIFEST_SECTION)
        .ok_or_else(|| ArtifactError::NoManifest(origin.into()))?;
    let text = std::str::from_utf8(&data).map_err(|_| ArtifactError::NotText(origin.into()))?;
    Ok(Manifest::parse(text)?)
}

/// Packs `manifest` into `component`; a component that already carries one is refused, so an
/// artifact has exactly one manifest.
pub fn pack(component: &[u8], manifest: &Manifest, origin: &str) -> Result<Vec<u8>, ArtifactError> {
    let sections = top_level_sections(component, origin)?;
    if sections.iter().any(|(name, _)| name == MANIFEST_SECTION) {
        return Err(ArtifactError::Manifest(ManifestError::Invalid(format!(
            "{origin} already carries a manifest"
        ))));
    }
    let mut out = component.to_vec();
    let text = manifest.to_toml();
    let section = wasm_encoder::CustomSection {
        name: MANIFEST_SECTION.into(),
        data: text.as_bytes().into(),
    };
    out.push(wasm_encoder::ComponentSection::id(&section));
    wasm_encoder::Encode::encode(&section, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: magic, component-layer version.
    const EMPTY_COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn packs_and_reads_back_and_refuses_twice() {
        let manifest = Manifest::parse("name = 'p'\nversion = '1.0.0'\ndescription = 'd'").unwrap();
        let packed = pack(&EMPTY_COMPONENT, &manifest, "p.wasm").unwrap();
        assert_eq!(read_manifest(&packed, "p.wasm").unwrap(), manifest);
        assert!(pack(&packed, &manifest, "p.wasm").is_err());
        assert!(matches!(
            read_manifest(&EMPTY_COMPONENT, "e.wasm"),
            Err(ArtifactError::NoManifest(_))
        ));
        let core_module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        assert!(matches!(
            read_manifest(&core_module, "m.wasm"),
            Err(ArtifactError::NotAComponent(..))
        ));
        assert_ne!(digest(&packed), digest(&EMPTY_COMPONENT));
        let Err(text) = read_manifest(b"# a README", "README.md") else {
            panic!("a text file is no component")
        };
        assert!(
            text.to_string()
                .contains("does not start with the WebAssembly header"),
            "{text}"
        );
    }
}
