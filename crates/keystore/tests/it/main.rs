//! Integration tests for `warrant-keystore` (Unix: they check file modes).
#![cfg(unix)]

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use alloy::primitives::{Address, address};
use tempfile::TempDir;
use warrant_keystore::{Keystore, KeystoreError, SecretKey};

/// Hardhat/anvil account #0.
const SECRET_HEX: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const SECRET_ADDRESS: Address = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const PASSWORD: &str = "hunter2-correct-horse";

/// A keystore writing at scrypt n = 2^13, so that only the test of the cost pays for the standard 2^18.
fn keystore() -> (TempDir, Keystore) {
    let tmp = TempDir::new().unwrap();
    let ks = Keystore::open(tmp.path().join("keys")).unwrap().with_scrypt_log_n(13).unwrap();
    (tmp, ks)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn imported(ks: &Keystore, name: &str) -> PathBuf {
    let secret = SecretKey::from_hex(SECRET_HEX).unwrap();
    ks.import(name, &secret, PASSWORD).unwrap().path
}

/// Rewrites a key file's JSON with `edit`, keeping its mode.
fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut value);
    fs::write(path, serde_json::to_string(&value).unwrap()).unwrap();
}

/// Flips the lowest bit of the first byte of a hex string field.
fn flip_hex(value: &mut serde_json::Value) {
    let s = value.as_str().unwrap();
    let mut bytes = alloy::hex::decode(s).unwrap();
    bytes[0] ^= 1;
    *value = alloy::hex::encode(bytes).into();
}

#[test]
fn create_list_unlock_round_trip() {
    let (_tmp, ks) = keystore();
    let info = ks.create("session-1", PASSWORD).unwrap();
    assert_eq!(info.name, "session-1");
    assert_eq!(info.path, ks.dir().join("session-1.json"));

    let listed = ks.list().unwrap();
    assert_eq!(listed, vec![info.clone()]);
    assert_eq!(ks.address("session-1").unwrap(), info.address);
    assert_eq!(ks.info("session-1").unwrap(), info);

    let signer = ks.unlock("session-1", PASSWORD).unwrap();
    assert_eq!(signer.address(), info.address);
}

#[test]
fn import_known_secret_gives_known_address() {
    let (_tmp, ks) = keystore();
    let secret = SecretKey::from_hex(&format!("0x{SECRET_HEX}")).unwrap();
    assert_eq!(secret.address(), SECRET_ADDRESS);
    let info = ks.import("owner", &secret, PASSWORD).unwrap();
    assert_eq!(info.address, SECRET_ADDRESS);
    assert_eq!(ks.unlock("owner", PASSWORD).unwrap().address(), SECRET_ADDRESS);

    // The key file is geth-compatible: top-level lowercase address without 0x.
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(&info.path).unwrap()).unwrap();
    assert_eq!(json["address"], "f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    assert_eq!(json["version"], 3);
    assert_eq!(json["crypto"]["kdf"], "scrypt");
    assert_eq!(json["crypto"]["cipher"], "aes-128-ctr");

    // Secret key 1 has a well-known address too.
    let one = SecretKey::from_bytes(&{
        let mut b = [0u8; 32];
        b[31] = 1;
        b
    })
    .unwrap();
    assert_eq!(one.address(), address!("7E5F4552091A69125d5DfCb7b8C2659029395Bdf"));
}

#[test]
fn list_is_sorted_and_ignores_other_files() {
    let (_tmp, ks) = keystore();
    assert!(ks.list().unwrap().is_empty());
    ks.create("b", PASSWORD).unwrap();
    ks.create("a", PASSWORD).unwrap();
    fs::write(ks.dir().join("notes.txt"), "hello").unwrap();
    fs::write(ks.dir().join(".a.0011.tmp"), "partial").unwrap();
    fs::write(ks.dir().join("bad name.json"), "{}").unwrap();
    let names: Vec<_> = ks.list().unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn wrong_password_is_rejected() {
    let (_tmp, ks) = keystore();
    ks.create("k", PASSWORD).unwrap();
    let err = ks.unlock("k", "not-the-password").unwrap_err();
    assert!(matches!(err, KeystoreError::WrongPassword), "{err:?}");
    assert!(err.to_string().contains("wrong password"), "{err}");
}

#[test]
fn missing_key_is_not_found() {
    let (_tmp, ks) = keystore();
    let err = ks.unlock("nope", PASSWORD).unwrap_err();
    assert!(matches!(&err, KeystoreError::NotFound { name } if name == "nope"), "{err:?}");
    assert!(matches!(ks.address("nope"), Err(KeystoreError::NotFound { .. })));
}

#[test]
fn truncated_file_is_corrupt() {
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    let json = fs::read_to_string(&path).unwrap();
    fs::write(&path, &json[..json.len() / 2]).unwrap();
    for err in [ks.unlock("k", PASSWORD).unwrap_err(), ks.list().unwrap_err()] {
        assert!(matches!(&err, KeystoreError::Corrupt { path: p, .. } if *p == path), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("corrupt") && msg.contains(&path.display().to_string()), "{msg}");
    }
}

#[test]
fn empty_and_non_json_files_are_corrupt() {
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    for contents in [&b""[..], b"not json", b"[1, 2]", &[0xff, 0xfe, 0x00]] {
        fs::write(&path, contents).unwrap();
        let err = ks.unlock("k", PASSWORD).unwrap_err();
        assert!(matches!(err, KeystoreError::Corrupt { .. }), "{err:?}");
    }
}

#[test]
fn flipped_ciphertext_byte_is_detected() {
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    edit_json(&path, |v| flip_hex(&mut v["crypto"]["ciphertext"]));
    let err = ks.unlock("k", PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::WrongPassword), "{err:?}");
    assert!(err.to_string().contains("altered"), "{err}");
}

#[test]
fn bad_mac_is_detected() {
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    edit_json(&path, |v| flip_hex(&mut v["crypto"]["mac"]));
    let err = ks.unlock("k", PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::WrongPassword), "{err:?}");
}

#[test]
fn malformed_crypto_parameters_are_corrupt_not_panics() {
    type Edit = fn(&mut serde_json::Value);
    let edits: [(Edit, &str); 9] = [
        (|v| v["crypto"]["cipherparams"]["iv"] = "00".into(), "iv"),
        (|v| v["crypto"]["ciphertext"] = "0011".into(), "ciphertext"),
        (|v| v["crypto"]["mac"] = "zz".into(), "not a v3 key file"),
        (|v| v["crypto"]["cipher"] = "aes-256-gcm".into(), "cipher"),
        (|v| v["crypto"]["kdfparams"]["n"] = 1000.into(), "power of two"),
        (|v| v["crypto"]["kdfparams"]["n"] = (1u64 << 30).into(), "256 MiB"),
        (|v| v["crypto"]["kdfparams"]["dklen"] = 16.into(), "dklen"),
        (|v| v["version"] = 1.into(), "version"),
        (|v| v["address"] = "0x1234".into(), "address"),
    ];
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    let original = fs::read_to_string(&path).unwrap();
    for (edit, expected) in edits {
        fs::write(&path, &original).unwrap();
        edit_json(&path, edit);
        let err = ks.unlock("k", PASSWORD).unwrap_err();
        assert!(matches!(err, KeystoreError::Corrupt { .. }), "{expected}: {err:?}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}

#[test]
fn address_mismatch_is_corrupt() {
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    edit_json(&path, |v| v["address"] = "0000000000000000000000000000000000000001".into());
    // Listing trusts the stored address; unlocking checks it.
    assert_eq!(ks.address("k").unwrap(), address!("0000000000000000000000000000000000000001"));
    let err = ks.unlock("k", PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("does not match") || err.to_string().contains("file says"), "{err}");
}

#[test]
fn group_or_other_accessible_file_is_refused() {
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    for bad in [0o640, 0o604, 0o644, 0o660, 0o601] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        for err in
            [ks.unlock("k", PASSWORD).unwrap_err(), ks.list().unwrap_err(), ks.address("k").unwrap_err()]
        {
            assert!(
                matches!(&err, KeystoreError::InsecurePermissions { path: p, mode } if *p == path && *mode == bad),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("{bad:04o}")), "{msg}");
        }
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert_eq!(ks.unlock("k", PASSWORD).unwrap().address(), SECRET_ADDRESS);
}

#[test]
fn created_files_are_private_and_no_temp_files_remain() {
    let (tmp, ks) = keystore();
    assert_eq!(mode(ks.dir()), 0o700);
    let created = ks.create("a", PASSWORD).unwrap();
    let path = imported(&ks, "b");
    assert_eq!(mode(&created.path), 0o600);
    assert_eq!(mode(&path), 0o600);
    let mut files: Vec<_> =
        fs::read_dir(ks.dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["a.json", "b.json"]);

    // Missing parents are created too, with 0700 as well.
    let nested = Keystore::open(tmp.path().join("x/y")).unwrap();
    assert_eq!(mode(nested.dir()), 0o700);
    assert_eq!(mode(&tmp.path().join("x")), 0o700);
}

#[test]
fn existing_key_is_never_overwritten() {
    let (_tmp, ks) = keystore();
    let first = ks.create("k", PASSWORD).unwrap();
    let before = fs::read(&first.path).unwrap();

    let err = ks.create("k", "other-password").unwrap_err();
    assert!(matches!(&err, KeystoreError::KeyExists { name } if name == "k"), "{err:?}");
    assert!(err.to_string().contains("already exists"), "{err}");
    let secret = SecretKey::from_hex(SECRET_HEX).unwrap();
    let err = ks.import("k", &secret, PASSWORD).unwrap_err();
    assert!(matches!(err, KeystoreError::KeyExists { .. }), "{err:?}");

    assert_eq!(fs::read(&first.path).unwrap(), before);
    assert_eq!(ks.unlock("k", PASSWORD).unwrap().address(), first.address);
    assert_eq!(ks.list().unwrap().len(), 1);
}

#[test]
fn invalid_names_are_rejected_with_the_rule() {
    let (_tmp, ks) = keystore();
    let too_long = "a".repeat(65);
    let cases = [
        ("", "empty"),
        (too_long.as_str(), "64"),
        ("a/b", "[A-Za-z0-9._-]"),
        ("../escape", "[A-Za-z0-9._-]"),
        ("with space", "[A-Za-z0-9._-]"),
        ("naïve", "[A-Za-z0-9._-]"),
        ("a\0b", "[A-Za-z0-9._-]"),
        (".", "must start with a letter or digit"),
        ("..", "must start with a letter or digit"),
        ("...", "must start with a letter or digit"),
        (".hidden", "must start with a letter or digit"),
        ("-rf", "must start with a letter or digit"),
    ];
    for (name, rule) in cases {
        for err in [
            ks.create(name, PASSWORD).unwrap_err(),
            ks.unlock(name, PASSWORD).unwrap_err(),
            ks.address(name).unwrap_err(),
        ] {
            assert!(matches!(&err, KeystoreError::InvalidName { name: n, .. } if n == name), "{err:?}");
            assert!(err.to_string().contains(rule), "{name:?}: {err}");
        }
    }
    assert!(fs::read_dir(ks.dir()).unwrap().next().is_none());

    let longest = "Z".repeat(64);
    for ok in ["a", "A.b_c-9", longest.as_str(), "9.."] {
        warrant_keystore::validate_name(ok).unwrap();
    }
}

#[test]
fn invalid_secrets_are_rejected() {
    for bad in ["", "00", &"0".repeat(64), &"f".repeat(64), &format!("{SECRET_HEX}00"), &"g".repeat(64)] {
        let err = SecretKey::from_hex(bad).unwrap_err();
        assert!(matches!(err, KeystoreError::InvalidSecret { .. }), "{err:?}");
    }
    assert!(matches!(SecretKey::from_bytes(&[1; 31]), Err(KeystoreError::InvalidSecret { .. })));
}

#[test]
fn no_secret_or_password_in_debug_or_error_text() {
    let (tmp, ks) = keystore();
    let secret = SecretKey::from_hex(SECRET_HEX).unwrap();
    let info = ks.import("k", &secret, PASSWORD).unwrap();
    let signer = ks.unlock("k", PASSWORD).unwrap();

    let mut texts = vec![
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{info:?}"),
        format!("{ks:?}"),
        format!("{signer:?}"),
    ];

    let mut errors = vec![
        ks.unlock("k", "wrong").unwrap_err(),
        ks.create("k", PASSWORD).unwrap_err(),
        ks.import("k", &secret, PASSWORD).unwrap_err(),
        ks.unlock("missing", PASSWORD).unwrap_err(),
        ks.create("bad/name", PASSWORD).unwrap_err(),
        SecretKey::from_hex(&format!("{}x", &SECRET_HEX[..63])).unwrap_err(),
        SecretKey::from_hex(&SECRET_HEX[..62]).unwrap_err(),
    ];
    // Permission and corruption errors.
    fs::set_permissions(&info.path, fs::Permissions::from_mode(0o644)).unwrap();
    errors.push(ks.unlock("k", PASSWORD).unwrap_err());
    fs::set_permissions(&info.path, fs::Permissions::from_mode(0o600)).unwrap();
    let original = fs::read_to_string(&info.path).unwrap();
    edit_json(&info.path, |v| flip_hex(&mut v["crypto"]["ciphertext"]));
    errors.push(ks.unlock("k", PASSWORD).unwrap_err());
    fs::write(&info.path, &original).unwrap();
    edit_json(&info.path, |v| v["address"] = "0000000000000000000000000000000000000001".into());
    errors.push(ks.unlock("k", PASSWORD).unwrap_err());
    fs::write(&info.path, &original[..10]).unwrap();
    errors.push(ks.unlock("k", PASSWORD).unwrap_err());
    // An I/O error: the keystore path is a file.
    let file = tmp.path().join("file");
    fs::write(&file, "").unwrap();
    errors.push(Keystore::open(&file).unwrap_err());

    for err in &errors {
        texts.push(err.to_string());
        texts.push(format!("{err:?}"));
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            texts.push(s.to_string());
            source = s.source();
        }
    }
    let secret_lower = SECRET_HEX.to_lowercase();
    for text in &texts {
        let lower = text.to_lowercase();
        assert!(!lower.contains(&secret_lower), "secret leaked: {text}");
        assert!(!lower.contains(&secret_lower[..16]), "part of secret leaked: {text}");
        assert!(!text.contains(PASSWORD), "password leaked: {text}");
    }
    assert!(texts[0].contains("redacted"));
}

#[test]
fn secrets_put_in_the_wrong_field_are_not_echoed() {
    // A secret key pasted into any field of a key file must not come back in the error text.
    type Edit = fn(&mut serde_json::Value);
    let edits: [(Edit, &str); 7] = [
        (|v| v["address"] = SECRET_HEX.into(), "\"address\" is not a 20-byte hex address"),
        (|v| v["address"] = format!("0x{SECRET_HEX}").into(), "66-character value, not shown"),
        (|v| v["version"] = SECRET_HEX.into(), "wrong type"),
        (|v| v["crypto"]["cipher"] = SECRET_HEX.into(), "unsupported cipher"),
        (|v| v["crypto"]["kdf"] = SECRET_HEX.into(), "unknown value"),
        (|v| v["crypto"]["ciphertext"] = format!("{SECRET_HEX}zz").into(), "not a v3 key file"),
        (|v| v["crypto"]["kdfparams"]["salt"] = 5.into(), "line 1"),
    ];
    let (_tmp, ks) = keystore();
    let path = imported(&ks, "k");
    let original = fs::read_to_string(&path).unwrap();
    for (edit, expected) in edits {
        fs::write(&path, &original).unwrap();
        edit_json(&path, edit);
        for err in [ks.unlock("k", PASSWORD).unwrap_err(), ks.list().unwrap_err()] {
            assert!(matches!(err, KeystoreError::Corrupt { .. }), "{expected}: {err:?}");
            let (text, debug) = (err.to_string(), format!("{err:?}"));
            assert!(text.contains(expected), "{expected}: {text}");
            for shown in [&text, &debug] {
                assert!(!shown.to_lowercase().contains(&SECRET_HEX[..16]), "secret echoed: {shown}");
            }
        }
    }
    // Short identifiers are still quoted, which helps to fix a file.
    fs::write(&path, &original).unwrap();
    edit_json(&path, |v| v["crypto"]["cipher"] = "aes-256-gcm".into());
    assert!(ks.unlock("k", PASSWORD).unwrap_err().to_string().contains("\"aes-256-gcm\""));
}

#[test]
fn a_key_file_that_is_a_directory_or_unreadable_is_a_clear_error() {
    let (_tmp, ks) = keystore();
    fs::create_dir(ks.dir().join("d.json")).unwrap();
    let err = ks.unlock("d", PASSWORD).unwrap_err();
    assert!(
        matches!(&err, KeystoreError::Corrupt { reason, .. } if reason == "not a regular file"),
        "{err:?}"
    );
    // Mode 000: root reads it anyway, so this part only checks the error for other users.
    let path = imported(&ks, "k");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    if let Err(err) = ks.unlock("k", PASSWORD) {
        assert!(matches!(err, KeystoreError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
}

#[test]
fn group_or_other_writable_directory_is_refused() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("keys");
    Keystore::open(&dir).unwrap().create("k", PASSWORD).unwrap();
    for bad in [0o770, 0o707, 0o777, 0o1777, 0o720] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(bad)).unwrap();
        let err = Keystore::open(&dir).unwrap_err();
        assert!(
            matches!(&err, KeystoreError::InsecureDirectory { path, mode } if *path == dir && *mode == bad),
            "{bad:o}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("{bad:04o}")) && msg.contains("chmod 700"), "{msg}");
    }
    // Readable by others only shows names and addresses, as ~/.ssh with 0755 does: accepted.
    for ok in [0o755, 0o750, 0o700] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(ok)).unwrap();
        assert_eq!(Keystore::open(&dir).unwrap().unlock("k", PASSWORD).unwrap().address(), ks_address(&dir));
    }
}

fn ks_address(dir: &Path) -> Address {
    Keystore::open(dir).unwrap().address("k").unwrap()
}

/// New keys are written at geth's standard scrypt cost (n = 2^18, r = 8, p = 1), not eth-keystore 0.5's 2^13,
/// and eth-keystore (an implementation other than the writer's) decrypts them. One scrypt of each kind, timed
/// once for the record.
#[test]
fn new_keys_use_the_standard_scrypt_cost() {
    let tmp = TempDir::new().unwrap();
    let ks = Keystore::open(tmp.path().join("keys")).unwrap();
    assert!(Keystore::open(tmp.path().join("keys")).unwrap().with_scrypt_log_n(12).is_err());
    let start = std::time::Instant::now();
    let path = imported(&ks, "standard");
    let write = start.elapsed();
    let value: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let params = &value["crypto"]["kdfparams"];
    assert_eq!(
        (params["n"].as_u64(), params["r"].as_u64(), params["p"].as_u64()),
        (Some(262_144), Some(8), Some(1))
    );
    assert_eq!(params["dklen"].as_u64(), Some(32));
    assert_eq!(value["crypto"]["cipher"], "aes-128-ctr");
    assert_eq!(value["version"], 3);
    assert_eq!(mode(&path), 0o600);
    let id = value["id"].as_str().unwrap();
    assert_eq!((id.len(), &id[14..15]), (36, "4"), "a version-4 UUID: {id}");
    // eth-keystore's own decryption, independent of the writer.
    let secret = eth_keystore::decrypt_key(&path, PASSWORD).unwrap();
    assert_eq!(alloy::hex::encode(secret), SECRET_HEX);
    assert_eq!(ks.unlock("standard", PASSWORD).unwrap().address(), SECRET_ADDRESS);
    assert!(matches!(ks.unlock("standard", "wrong"), Err(KeystoreError::WrongPassword)));
    eprintln!("scrypt n = 2^18: one key written in {} ms", write.as_millis());
}

/// A key file written at n = 2^13 (eth-keystore 0.5's cost, which earlier versions of this crate used) still
/// opens, as a keystore entry and through `decrypt_file`; a file from elsewhere without the `address` field is
/// accepted by `decrypt_file` (not by the keystore, which lists without decrypting).
#[test]
fn old_cost_files_still_open() {
    let (tmp, ks) = keystore();
    let secret = alloy::hex::decode(SECRET_HEX).unwrap();
    eth_keystore::encrypt_key(ks.dir(), &mut rand_08::rngs::OsRng, &secret, PASSWORD, Some("old.json"))
        .unwrap();
    let path = ks.dir().join("old.json");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(value["crypto"]["kdfparams"]["n"].as_u64(), Some(8192));
    // No address field: a foreign file. decrypt_file takes it; the keystore refuses to list it.
    let foreign = tmp.path().join("foreign.json");
    fs::copy(&path, &foreign).unwrap();
    assert_eq!(Keystore::decrypt_file(&foreign, PASSWORD).unwrap().address(), SECRET_ADDRESS);
    assert!(matches!(Keystore::decrypt_file(&foreign, "wrong"), Err(KeystoreError::WrongPassword)));
    assert!(matches!(ks.info("old"), Err(KeystoreError::Corrupt { .. })));
    edit_json(&path, |v| v["address"] = alloy::hex::encode(SECRET_ADDRESS).into());
    assert_eq!(ks.unlock("old", PASSWORD).unwrap().address(), SECRET_ADDRESS);
    // decrypt_file checks a stated address too.
    edit_json(&foreign, |v| v["address"] = alloy::hex::encode(Address::repeat_byte(1)).into());
    assert!(matches!(Keystore::decrypt_file(&foreign, PASSWORD), Err(KeystoreError::Corrupt { .. })));
}
