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

/// Without a terminal, `key new` says where the password comes from (WARRANT_PASSWORD), and an empty one from
/// there is refused as the prompt refuses it; nothing is written either way.
#[test]
fn key_new_without_a_terminal_names_warrant_password_and_refuses_an_empty_one() {
    let dir = keystore();
    let ks = dir.path().to_str().unwrap();
    let out = crate::warrant_detached(&["key", "new", "alice", "--keystore", ks], &[], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no terminal") && stderr(&out).contains("WARRANT_PASSWORD"),
        "{}",
        stderr(&out)
    );
    let out =
        crate::warrant_detached(&["key", "new", "alice", "--keystore", ks], &[("WARRANT_PASSWORD", "")], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("WARRANT_PASSWORD is set but empty"), "{}", stderr(&out));
    assert!(!dir.path().join("alice.json").exists(), "no key written");
}

/// `key import` takes the hex secret on stdin (never argv) or a Web3 Secret Storage file, and the address is
/// the secret's; refusals name the problem without echoing the input.
#[test]
fn key_import_from_stdin_and_from_a_key_file() {
    // anvil's account 0.
    const SECRET: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let dir = keystore();
    let ks = dir.path().to_str().unwrap();
    let env = [("WARRANT_PASSWORD", "import pw")];
    let out = crate::warrant_detached(
        &["key", "import", "owner", "--keystore", ks, "--json"],
        &env,
        SECRET.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["address"], ADDRESS);
    // The secret is nowhere in the output.
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&SECRET[2..]) && !stderr(&out).contains(&SECRET[2..])
    );
    // A taken name, a bad secret, nothing on stdin, a secret on the command line: refused by name.
    let out = crate::warrant_detached(&["key", "import", "owner", "--keystore", ks], &env, SECRET.as_bytes());
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = crate::warrant_detached(&["key", "import", "bad", "--keystore", ks], &env, b"0x1234 not a key");
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("not a key"), "the input is not echoed: {}", stderr(&out));
    let out = crate::warrant_detached(&["key", "import", "none", "--keystore", ks], &env, b"");
    assert!(stderr(&out).contains("no private key on stdin"), "{}", stderr(&out));
    let out = crate::warrant_detached(&["key", "import", "argv", SECRET, "--keystore", ks], &env, b"");
    assert_eq!(out.status.code(), Some(2), "a secret on argv is not an option");

    // From a v3 key file (the keystore's own, re-imported into another keystore under a new password).
    let other = keystore();
    let file = dir.path().join("owner.json");
    let import = [
        "key",
        "import",
        "again",
        "--from-file",
        file.to_str().unwrap(),
        "--keystore",
        other.path().to_str().unwrap(),
    ];
    let out = crate::warrant_detached(
        &import,
        &[("WARRANT_PASSWORD", "new pw"), ("WARRANT_IMPORT_PASSWORD", "wrong")],
        b"",
    );
    assert!(stderr(&out).contains("wrong password"), "{}", stderr(&out));
    let out = crate::warrant_detached(&import, &[("WARRANT_PASSWORD", "new pw")], b"");
    assert!(stderr(&out).contains("WARRANT_IMPORT_PASSWORD"), "no terminal: {}", stderr(&out));
    let out = crate::warrant_detached(
        &import,
        &[("WARRANT_PASSWORD", "new pw"), ("WARRANT_IMPORT_PASSWORD", "import pw")],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(ADDRESS));
}
