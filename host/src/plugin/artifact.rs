//! The plugin artifact: a WebAssembly component with its manifest packed in as a custom section
//! (`exorun-manifest`), so one file carries both, its digest covers both, and the manifest can be
//! read without instantiating anything.

use std::ops::Range;

use wasmparser::{Chunk, Encoding, Parser, Payload};

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

/// One top-level section of an artifact, by where it lies in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Its bytes, header (id and size) included: cutting this range out removes the section.
    pub range: Range<usize>,
    /// Its name and where its data lies, for a custom section.
    pub custom: Option<CustomSection>,
}

/// A custom section's name and the range of its data in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomSection {
    /// The section's name, e.g. [`MANIFEST_SECTION`].
    pub name: String,
    /// Its data (after the name).
    pub data: Range<usize>,
}

/// The top-level sections of a file, as far as they can be read: signatures are found and
/// stripped by these ranges, and a file damaged past some point still shows what comes before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Whether the file is a component rather than a core module.
    pub is_component: bool,
    /// The sections read, in file order (none for a core module); nested modules and components
    /// are one section each.
    pub sections: Vec<Section>,
    /// Why reading stopped before the end of the file, if it did.
    pub unreadable: Option<String>,
}

impl Layout {
    /// Reads the top-level sections of `bytes`. Nested modules and components are skipped by
    /// their size, not parsed: they are the plugin's code, which the compiler checks.
    pub fn read(bytes: &[u8]) -> Layout {
        let mut layout = Layout {
            is_component: false,
            sections: Vec::new(),
            unreadable: None,
        };
        if !bytes.starts_with(b"\0asm") {
            layout.unreadable = Some(
                "it does not start with the WebAssembly header `\\0asm`: give the .wasm file that \
                 scripts/build-plugins.sh or `exorun plugin pack` wrote"
                    .into(),
            );
            return layout;
        }
        let mut parser = Parser::new(0);
        let mut position = 0;
        loop {
            let (consumed, payload) = match parser.parse(&bytes[position..], true) {
                Ok(Chunk::Parsed { consumed, payload }) => (consumed, payload),
                Ok(Chunk::NeedMoreData(_)) => {
                    layout.unreadable = Some(format!(
                        "it ends in the middle of a section at byte {position}"
                    ));
                    return layout;
                }
                Err(e) => {
                    layout.unreadable = Some(e.to_string());
                    return layout;
                }
            };
            let start = position;
            position += consumed;
            let custom = match payload {
                // A core module's sections are not read: it is no artifact.
                Payload::Version { encoding, .. } => {
                    layout.is_component = matches!(encoding, Encoding::Component);
                    if !layout.is_component {
                        return layout;
                    }
                    continue;
                }
                Payload::End(_) => return layout,
                Payload::ModuleSection {
                    unchecked_range, ..
                }
                | Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    if unchecked_range.end > bytes.len() {
                        layout.unreadable = Some(format!(
                            "a nested module or component at byte {start} runs past the end of the file"
                        ));
                        return layout;
                    }
                    position = unchecked_range.end;
                    None
                }
                Payload::CustomSection(reader) => Some(CustomSection {
                    name: reader.name().to_string(),
                    data: reader.data_offset()..reader.range().end,
                }),
                _ => None,
            };
            layout.sections.push(Section {
                range: start..position,
                custom,
            });
        }
    }

    /// The custom sections named `name`, in file order.
    pub fn custom_sections<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
        self.sections
            .iter()
            .filter(move |s| s.custom.as_ref().is_some_and(|c| c.name == name))
    }
}

/// The layout of a component that reads to its end, or why it is not one.
pub fn component_layout(bytes: &[u8], origin: &str) -> Result<Layout, ArtifactError> {
    let layout = Layout::read(bytes);
    if let Some(reason) = &layout.unreadable {
        return Err(ArtifactError::NotAComponent(origin.into(), reason.clone()));
    }
    if !layout.is_component {
        return Err(ArtifactError::NotAComponent(
            origin.into(),
            "it is a core module or another format".into(),
        ));
    }
    Ok(layout)
}

/// Reads the manifest packed in an artifact.
pub fn read_manifest(bytes: &[u8], origin: &str) -> Result<Manifest, ArtifactError> {
    let layout = component_layout(bytes, origin)?;
    let section = layout
        .custom_sections(MANIFEST_SECTION)
        .next()
        .and_then(|s| s.custom.as_ref())
        .ok_or_else(|| ArtifactError::NoManifest(origin.into()))?;
    let text = std::str::from_utf8(&bytes[section.data.clone()])
        .map_err(|_| ArtifactError::NotText(origin.into()))?;
    Ok(Manifest::parse(text)?)
}

/// Packs `manifest` into `component`; a component that already carries one is refused, so an
/// artifact has exactly one manifest.
pub fn pack(component: &[u8], manifest: &Manifest, origin: &str) -> Result<Vec<u8>, ArtifactError> {
    let layout = component_layout(component, origin)?;
    if layout.custom_sections(MANIFEST_SECTION).next().is_some() {
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

    #[test]
    fn sha256_matches_the_one_shot_and_the_known_value() {
        assert_eq!(
            crate::digest::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = vec![7u8; 100_000];
        assert_eq!(crate::digest::sha256(&long), openssl::sha::sha256(&long));
    }

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
        assert_ne!(
            crate::digest::sha256_hex(&packed),
            crate::digest::sha256_hex(&EMPTY_COMPONENT)
        );
        let Err(text) = read_manifest(b"# a README", "README.md") else {
            panic!("a text file is no component")
        };
        assert!(
            text.to_string()
                .contains("does not start with the WebAssembly header"),
            "{text}"
        );
    }

    /// A component holding a nested core module between two custom sections.
    fn component_with_module() -> Vec<u8> {
        let mut component = wasm_encoder::Component::new();
        component.section(&wasm_encoder::CustomSection {
            name: "first".into(),
            data: b"one".into(),
        });
        component.section(&wasm_encoder::ModuleSection(&wasm_encoder::Module::new()));
        component.section(&wasm_encoder::CustomSection {
            name: "second".into(),
            data: b"two".into(),
        });
        component.finish()
    }

    #[test]
    fn layout_covers_every_byte_after_the_header_with_sections() {
        let bytes = component_with_module();
        let layout = Layout::read(&bytes);
        assert!(layout.is_component && layout.unreadable.is_none());
        assert_eq!(layout.sections.len(), 3);
        assert_eq!(layout.sections[0].range.start, 8);
        for pair in layout.sections.windows(2) {
            assert_eq!(pair[0].range.end, pair[1].range.start);
        }
        assert_eq!(layout.sections[2].range.end, bytes.len());
        assert!(layout.sections[1].custom.is_none(), "the nested module");
        let second = layout.custom_sections("second").next().unwrap();
        let custom = second.custom.as_ref().unwrap();
        assert_eq!(&bytes[custom.data.clone()], b"two");

        // Cutting a section's range out leaves a component without it.
        let mut cut = bytes[..second.range.start].to_vec();
        cut.extend_from_slice(&bytes[second.range.end..]);
        let layout = Layout::read(&cut);
        assert!(layout.unreadable.is_none());
        assert_eq!(layout.sections.len(), 2);
    }

    #[test]
    fn layout_of_a_damaged_file_keeps_what_comes_before_the_damage() {
        let mut bytes = component_with_module();
        bytes.push(0x00);
        let layout = Layout::read(&bytes);
        assert_eq!(layout.sections.len(), 3);
        assert!(layout.unreadable.is_some());
        assert!(component_layout(&bytes, "x.wasm").is_err());

        let truncated = &component_with_module()[..20];
        let layout = Layout::read(truncated);
        assert!(layout.unreadable.is_some(), "{layout:?}");

        let layout = Layout::read(b"plain text");
        assert!(layout.sections.is_empty() && !layout.is_component);
    }
}
