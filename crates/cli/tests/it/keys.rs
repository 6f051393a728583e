//! `warrant key new|list|address` on a temporary keystore, and the keystore's refusals as the CLI reports them.

use crate::{stderr, warrant_env};

fn keystore() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn new_list_address_round_trip() {
    let dir = keystore();
    let ks = dir.path().to_str().unwrap();
    let env = [("WARRANT_PASSWORD", "correct horse")];
    let out = warrant_env(&["key", "new", "alice", "--keystore", ks, "--json"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let address = created["address"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "alice");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("correct horse"));

    let out = warrant_env(&["key", "list", "--keystore", ks, "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["address"], address.as_str());

    let out = warrant_env(&["key", "address", "alice", "--keystore", ks], &[]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), address);

    // The key file is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("alice.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn refusals_are_named_and_exit_non_zero() {
    let dir = keystore();
    let ks = dir.path().to_str().unwrap();
    let env = [("WARRANT_PASSWORD", "pw-one")];
    assert!(warrant_env(&["key", "new", "alice", "--keystore", ks], &env).status.success());

    let out = warrant_env(&["key", "new", "alice", "--keystore", ks], &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists; refusing to overwrite"), "{}", stderr(&out));

    let out = warrant_env(&["key", "address", "bob", "--keystore", ks], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no key named \"bob\""), "{}", stderr(&out));

    let out = warrant_env(&["key", "new", "../evil", "--keystore", ks], &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid key name"), "{}", stderr(&out));

    // A wrong password is reported as such, and the password never appears in any output.
    let grant = [
        "grant",
        "--account",
        "0x000000000000000000000000000000000000bEEF",
        "--module",
        "0x1000000000000000000000000000000000000001",
        "--chain-id",
        "1",
        "--epoch",
        "0",
        "--session-key",
        "0x2000000000000000000000000000000000000002",
        "--allow",
        "0x1000000000000000000000000000000000000001:*",
        "--max-value",
        "0.01ether",
        "--key",
        "alice",
        "--keystore",
        ks,
    ];
    let out = warrant_env(&grant, &[("WARRANT_PASSWORD", "pw-two")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("wrong password"), "{err}");
    assert!(!err.contains("pw-two") && !err.contains("pw-one"), "{err}");

    // A key file readable by others is refused, naming the file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join("alice.json");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = warrant_env(&["key", "address", "alice", "--keystore", ks], &[]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("alice.json"), "{}", stderr(&out));
    }
}
