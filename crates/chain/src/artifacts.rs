//! Contract bytecode, read from the pinned npm packages under `contracts/node_modules` (never committed), and
//! Warrant's own from forge's output (or its committed copy, `contracts/prebuilt`).

use std::path::{Path, PathBuf};

use alloy::primitives::{Bytes, hex};

use crate::ChainError;

/// The `contracts/` directory: `$WARRANT_CONTRACTS_DIR` if set, else the one in this source tree.
pub fn contracts_dir() -> PathBuf {
    std::env::var_os("WARRANT_CONTRACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts"))
}

fn read_json(path: &Path) -> Result<serde_json::Value, ChainError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ChainError::Artifact { path: path.to_owned(), reason: e.to_string() })?;
    serde_json::from_str(&text)
        .map_err(|e| ChainError::Artifact { path: path.to_owned(), reason: e.to_string() })
}

fn hex_field(path: &Path, value: &serde_json::Value, pointer: &str) -> Result<Bytes, ChainError> {
    let text = value.pointer(pointer).and_then(|v| v.as_str()).ok_or_else(|| ChainError::Artifact {
        path: path.to_owned(),
        reason: format!("no string at {pointer}"),
    })?;
    hex::decode(text)
        .map(Bytes::from)
        .map_err(|e| ChainError::Artifact { path: path.to_owned(), reason: format!("{pointer}: {e}") })
}

/// The creation code of a contract of eth-infinitism's `@account-abstraction/contracts@0.8.0` package
/// (`artifacts/<name>.json`, field `bytecode`).
pub fn account_abstraction_creation_code(name: &str) -> Result<Bytes, ChainError> {
    let path = contracts_dir()
        .join("node_modules/@account-abstraction/contracts/artifacts")
        .join(format!("{name}.json"));
    let json = read_json(&path)?;
    let code = hex_field(&path, &json, "/bytecode")?;
    if code.is_empty() {
        return Err(ChainError::Artifact { path, reason: "empty bytecode".into() });
    }
    Ok(code)
}

/// EntryPoint v0.8's creation code, as published.
pub fn entry_point_creation_code() -> Result<Bytes, ChainError> {
    account_abstraction_creation_code("EntryPoint")
}

/// eth-infinitism's `Simple7702Account` creation code, as published.
pub fn simple_7702_account_creation_code() -> Result<Bytes, ChainError> {
    account_abstraction_creation_code("Simple7702Account")
}

/// The creation code of one of Warrant's own contracts from forge's output (`contracts/out/<file>/<name>.json`),
/// or, where nothing was built (a fresh clone running the demo), the committed copy of that output
/// (`contracts/prebuilt/<name>.json`, written by `scripts/prebuilt`; `scripts/test` checks a fresh build gives
/// the same bytecode).
pub fn warrant_creation_code(file: &str, name: &str) -> Result<Bytes, ChainError> {
    let built = contracts_dir().join("out").join(file).join(format!("{name}.json"));
    if built.exists() {
        let json = read_json(&built)?;
        return hex_field(&built, &json, "/bytecode/object");
    }
    let prebuilt = contracts_dir().join("prebuilt").join(format!("{name}.json"));
    if !prebuilt.exists() {
        return Err(ChainError::Artifact {
            path: built,
            reason: "not built, and no committed copy in contracts/prebuilt (run scripts/forge build)".into(),
        });
    }
    let json = read_json(&prebuilt)?;
    hex_field(&prebuilt, &json, "/bytecode")
}

/// The `accounts/` directory (third-party accounts from npm): `$WARRANT_ACCOUNTS_DIR` if set, else the one in this
/// source tree.
pub fn accounts_dir() -> PathBuf {
    std::env::var_os("WARRANT_ACCOUNTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../accounts"))
}

/// A `bytes public constant <name> = hex"…";` of `@rhinestone/modulekit@0.5.9`'s
/// `src/deployment/precompiles/<file>`: the published creation code of a third-party account contract (Nexus,
/// Kernel), read at run time so that none of it is committed here.
pub fn modulekit_creation_code(file: &str, name: &str) -> Result<Bytes, ChainError> {
    let path =
        accounts_dir().join("node_modules/@rhinestone/modulekit/src/deployment/precompiles").join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| ChainError::Artifact {
        path: path.clone(),
        reason: format!("{e} (run scripts/install-toolchain)"),
    })?;
    let fail = |reason: String| ChainError::Artifact { path: path.clone(), reason };
    let declaration = format!("constant {name} =");
    let at = text.find(&declaration).ok_or_else(|| fail(format!("no constant {name}")))?;
    let rest = &text[at + declaration.len()..];
    let start = rest.find("hex\"").ok_or_else(|| fail(format!("{name} is not a hex\"…\" literal")))? + 4;
    let len = rest[start..].find('"').ok_or_else(|| fail(format!("{name}: unterminated hex literal")))?;
    let code = hex::decode(&rest[start..start + len]).map_err(|e| fail(format!("{name}: {e}")))?;
    if code.is_empty() {
        return Err(fail(format!("{name} is empty")));
    }
    Ok(code.into())
}
