use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::signing::fixtures::{
    MINISIGN_PUBLIC_KEY, MINISIGN_SECRET_KEY, MINISIGN_SIGNATURE, SIGNED_TEXT,
};

/// scrypt limits that take milliseconds, for tests.
const CHEAP: ScryptLimits = ScryptLimits {
    opslimit: 32_768,
    memlimit: 1 << 24,
};

fn minisign_key() -> SecretKey {
    SecretKeyFile::parse(MINISIGN_SECRET_KEY)
        .unwrap()
        .unlock(None)
        .unwrap()
}

/// The fixture key with its decoded bytes changed by `change`.
fn changed_key(change: impl FnOnce(&mut Vec<u8>)) -> String {
    let line = MINISIGN_SECRET_KEY.lines().nth(1).unwrap();
    let mut bytes = STANDARD.decode(line).unwrap();
    change(&mut bytes);
    format!("untrusted comment: x\n{}\n", STANDARD.encode(bytes))
}

#[test]
fn a_minisign_key_signs_exactly_as_minisign_does() {
    let file = SecretKeyFile::parse(MINISIGN_SECRET_KEY).unwrap();
    assert!(!file.is_encrypted());
    let key = file.unlock(None).unwrap();
    assert_eq!(key.key_id().to_string(), "378E18C04D1A9CD7");
    assert_eq!(key.public_key().to_file_text(), MINISIGN_PUBLIC_KEY);
    // Ed25519 is deterministic: the same key, data and comment give minisign's very bytes.
    let signature = key.sign(SIGNED_TEXT, "tc here").unwrap();
    assert_eq!(signature.to_text(), MINISIGN_SIGNATURE);
    assert!(matches!(
        key.sign(SIGNED_TEXT, "two\nlines"),
        Err(SigningError::CommentNotOneLine { .. })
    ));
}

#[test]
fn an_encrypted_key_needs_its_password() {
    let key = SecretKey::generate().unwrap();
    let password = Secret::new("correct horse");
    let text = key.to_file_text_with(Some(&password), CHEAP).unwrap();
    let file = SecretKeyFile::parse(text.expose()).unwrap();
    assert!(file.is_encrypted());
    let unlocked = file.unlock(Some(&password)).unwrap();
    assert_eq!(unlocked.public_key(), key.public_key());

    assert!(matches!(
        file.unlock(None),
        Err(SigningError::PasswordNeeded)
    ));
    let wrong = file
        .unlock(Some(&Secret::new("battery staple")))
        .unwrap_err();
    assert!(matches!(wrong, SigningError::WrongPassword), "{wrong}");
    assert!(wrong.to_string().contains("wrong password"));

    // The limits are stored in the file, so another file decrypts with its own.
    let again = key.to_file_text_with(Some(&password), CHEAP).unwrap();
    assert_ne!(again.expose(), text.expose(), "a fresh salt each time");
}

#[test]
fn an_unencrypted_key_round_trips_with_its_checksum() {
    let key = SecretKey::generate().unwrap();
    let text = key.to_file_text(None).unwrap();
    let file = SecretKeyFile::parse(text.expose()).unwrap();
    assert!(!file.is_encrypted());
    let again = file.unlock(Some(&Secret::new("not needed"))).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    let data = b"some bytes";
    let signature = again.sign(data, "t").unwrap();
    assert_eq!(signature.to_text(), key.sign(data, "t").unwrap().to_text());
}

#[test]
fn damaged_or_foreign_keys_are_refused_with_the_reason() {
    let flipped_seed = changed_key(|b| b[70] ^= 1);
    let error = SecretKeyFile::parse(&flipped_seed)
        .unwrap()
        .unlock(None)
        .unwrap_err();
    assert!(
        matches!(error, SigningError::DamagedSecretKey { .. }),
        "{error}"
    );
    let bad_checksum = changed_key(|b| b[157] ^= 1);
    let error = SecretKeyFile::parse(&bad_checksum)
        .unwrap()
        .unlock(None)
        .unwrap_err();
    assert!(
        matches!(error, SigningError::DamagedSecretKey { .. }),
        "{error}"
    );
    let argon = changed_key(|b| b[2..4].copy_from_slice(b"Ar"));
    let error = SecretKeyFile::parse(&argon).unwrap_err().to_string();
    assert!(error.contains("key derivation `Ar`"), "{error}");
    let error = SecretKeyFile::parse(MINISIGN_PUBLIC_KEY)
        .unwrap_err()
        .to_string();
    assert!(error.contains("it is a public key"), "{error}");
    assert!(SecretKeyFile::parse("").is_err());
    assert!(SecretKeyFile::parse(MINISIGN_SIGNATURE).is_err());
}

#[test]
fn no_key_file_makes_the_reader_panic() {
    for end in 0..MINISIGN_SECRET_KEY.len() {
        if let Ok(file) = SecretKeyFile::parse(&MINISIGN_SECRET_KEY[..end]) {
            let _ = file.unlock(None);
        }
    }
    for i in 0..158 {
        let text = changed_key(|b| b[i] ^= 0x41);
        if let Ok(file) = SecretKeyFile::parse(&text) {
            let _ = file.unlock(Some(&Secret::new("pw")));
        }
    }
}

#[test]
fn secrets_never_print() {
    let password = Secret::new("hunter2-password");
    let key = minisign_key();
    let seed_line = MINISIGN_SECRET_KEY.lines().nth(1).unwrap();
    let seed_b64 = STANDARD.encode(key.pkey.raw_private_key().unwrap());
    let text = key.to_file_text_with(Some(&password), CHEAP).unwrap();
    let file = SecretKeyFile::parse(text.expose()).unwrap();
    let wrong = file
        .unlock(Some(&Secret::new("hunter3-password")))
        .unwrap_err();
    let garbled = SecretKeyFile::parse(&format!("c\n{}!", &seed_line[..60])).unwrap_err();
    let printed = [
        format!("{key:?}"),
        format!("{file:?}"),
        format!("{text:?} {text}"),
        format!("{wrong:?} {wrong}"),
        format!("{garbled:?} {garbled}"),
    ]
    .join("\n");
    assert!(printed.contains("SecretKey { key_id: KeyId(378E18C04D1A9CD7), secret: [redacted] }"));
    for secret in [
        "hunter2",
        "hunter3",
        &seed_line[10..40],
        &seed_b64[..20],
        &text.expose()[60..90],
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    let hex_seed: String = key.pkey.raw_private_key().unwrap()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!printed.to_lowercase().contains(&hex_seed));
}
