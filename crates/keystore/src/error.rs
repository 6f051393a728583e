//! The crate's error type.

use std::{io, path::PathBuf};

/// Everything that can go wrong in the keystore.
///
/// No variant ever carries secret material: neither a private key nor a password appears in any
/// field or in the [`Display`](std::fmt::Display) text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The password does not decrypt the key file (its MAC does not match).
    ///
    /// Web3 Secret Storage cannot tell a wrong password from a ciphertext or MAC that was altered on
    /// disk, so this is also what a tampered-with file reports.
    #[error(
        "wrong password (the key file's MAC does not match; if the password is right, the file's \
         ciphertext or MAC has been altered)"
    )]
    WrongPassword,

    /// A key file is not a valid Web3 Secret Storage v3 file, or is not what this keystore wrote.
    #[error("key file {path} is corrupt: {reason}", path = .path.display())]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A key file can be accessed by group or others, so it is refused (as ssh refuses such keys).
    #[error(
        "permissions {mode:04o} for key file {path} are too open: a key file must not be \
         accessible by group or others (fix with `chmod 600 {path}`)",
        path = .path.display()
    )]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (e.g. `0o644`).
        mode: u32,
    },

    /// The keystore directory can be written by group or others, who could then replace key files.
    #[error(
        "permissions {mode:04o} for keystore directory {path} are too open: group or others could replace \
         key files (fix with `chmod 700 {path}`)",
        path = .path.display()
    )]
    InsecureDirectory {
        /// The directory.
        path: PathBuf,
        /// Its permission bits (e.g. `0o777`).
        mode: u32,
    },

    /// There is no key with this name.
    #[error("no key named {name:?} in the keystore")]
    NotFound {
        /// The name asked for.
        name: String,
    },

    /// A key with this name already exists; keys are never overwritten.
    #[error("a key named {name:?} already exists; refusing to overwrite it")]
    KeyExists {
        /// The name asked for.
        name: String,
    },

    /// A key name breaks the naming rule.
    #[error("invalid key name {name:?}: {rule}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },

    /// Bytes given as a secret key are not a valid secp256k1 secret key.
    ///
    /// The rejected input is deliberately not included.
    #[error("invalid secret key: {reason}")]
    InvalidSecret {
        /// Why the input was rejected (never the input itself).
        reason: &'static str,
    },

    /// An I/O operation on the keystore directory or a key file failed.
    #[error("I/O error on {path}: {source}", path = .path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl KeystoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Corrupt { path: path.into(), reason: reason.into() }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = KeystoreError> = std::result::Result<T, E>;
