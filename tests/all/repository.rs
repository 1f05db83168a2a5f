//! The repository stands alone: nothing cites a file a clone does not have, every
//! `docs/protocol.md §N` names a section that is there, and every relative link in the Markdown
//! files leads to a file of the repository.

use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The repository's own text files: sources, docs, scripts, examples (no build output).
fn text_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "target" | ".git" | "node_modules" | "__pycache__" | "corpus" | "artifacts"
                ) {
                    dirs.push(path);
                }
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("rs" | "md" | "sh" | "py" | "toml" | "wit" | "yaml" | "yml" | "js")
            ) {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn nothing_cites_a_file_outside_the_repository() {
    let mut found = Vec::new();
    for file in text_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let outside = [
                "../shared",
                "WASMTIME-NOTES",
                "SERVE-NOTES",
                "STYLE.md",
                "DESIGN.md",
            ]
            .iter()
            .any(|cited| line.contains(cited))
                || line.replace("docs/protocol.md", "").contains("PROTOCOL.md");
            // This test names what it looks for.
            if outside && !file.ends_with("tests/all/repository.rs") {
                found.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_protocol_section_cited_is_there() {
    let protocol = std::fs::read_to_string(root().join("docs/protocol.md")).unwrap();
    let sections: Vec<String> = protocol
        .lines()
        .filter(|l| l.starts_with("## ") || l.starts_with("### "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|n| n.trim_end_matches('.').to_string())
        .collect();
    let mut missing = Vec::new();
    for file in text_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (at, _) in text.match_indices("docs/protocol.md") {
            let rest = &text[at + "docs/protocol.md".len()..];
            let rest = rest
                .trim_start_matches([' ', ','])
                .trim_start_matches("section ");
            let cited: String = rest
                .trim_start_matches('§')
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let cited = cited.trim_end_matches('.');
            if !cited.is_empty() && !sections.iter().any(|s| s == cited) {
                missing.push(format!("{}: §{cited}", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "sections not in docs/protocol.md: {missing:?}"
    );
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file() {
    let mut broken = Vec::new();
    for file in text_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("](") {
            let target: String = text[at + 2..].chars().take_while(|c| *c != ')').collect();
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            if !file.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing: {broken:?}");
}
