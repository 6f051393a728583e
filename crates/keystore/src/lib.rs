//! Encrypted storage of Warrant's owner and session keys (secp256k1).
//!
//! A [`Keystore`] is a directory of key files in the
//! [Web3 Secret Storage v3](https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/)
//! format (scrypt KDF; AES-128-CTR; Keccak-256 MAC). New keys are written at geth's standard cost
//! (n = 2^18, r = 8, p = 1) with the RustCrypto crates [`eth-keystore`](https://docs.rs/eth-keystore/0.5)
//! uses (it writes only n = 2^13); every file, old n = 2^13 ones included, is decrypted by eth-keystore.
//! The caller chooses the directory; the crate has no global state.
//!
//! ```no_run
//! use warrant_keystore::Keystore;
//!
//! # fn main() -> Result<(), warrant_keystore::KeystoreError> {
//! let keystore = Keystore::open("/home/alice/.warrant/keys")?;
//! let info = keystore.create("session-1", "correct horse battery staple")?;
//! assert_eq!(keystore.list()?[0].address, info.address);
//! let signer = keystore.unlock("session-1", "correct horse battery staple")?;
//! assert_eq!(signer.address(), info.address);
//! # Ok(())
//! # }
//! ```
//!
//! # On-disk layout
//!
//! ```text
//! <dir>/                     mode 0700 when created by Keystore::open
//!   <name>.json              one key; mode 0600
//!   .<name>.<random>.tmp     transient, only while a key is being written
//! ```
//!
//! * `<name>` is the key's name: 1–64 characters from `[A-Za-z0-9._-]` (see [`validate_name`]).
//!   The file name is the only record of the name.
//! * Each `<name>.json` is a standard v3 key file (`version`, `id`, `crypto`) plus geth's
//!   top-level `"address"` field (40 lowercase hex digits, no `0x`). [`Keystore::list`],
//!   [`Keystore::info`] and [`Keystore::address`] read only this field and never decrypt;
//!   [`Keystore::unlock`] checks that the decrypted key matches it. Files from geth or other
//!   tools that carry the `address` field can be dropped in as `<name>.json` (mode 0600).
//! * Files whose names are not `<valid name>.json` are ignored.
//!
//! # Safety properties
//!
//! * **No key is ever lost by overwriting.** Creating or importing a name that exists fails with
//!   [`KeystoreError::KeyExists`]. A key file is fully written and synced under a temporary name,
//!   then published with a hard link, which (unlike `rename`) atomically fails if the target
//!   exists; readers never see a partial file.
//! * **Permissions are checked like ssh does.** A key file accessible by group or others (any bit
//!   of `0o077`) is refused by `list`, `info`, `address` and `unlock` with
//!   [`KeystoreError::InsecurePermissions`], naming the file and its mode; a keystore directory
//!   that group or others can write to (`0o022`) is refused by [`Keystore::open`] with
//!   [`KeystoreError::InsecureDirectory`].
//! * **Errors never quote a key file's contents** beyond short identifiers (a cipher or KDF name):
//!   a secret pasted into the wrong field does not come back in an error message.
//! * **Secrets do not leak.** Secret keys are held in [`zeroize::Zeroizing`] buffers
//!   ([`SecretKey`]) and wiped on drop; the returned signer wipes its own copy on drop. No type
//!   here prints a secret in `Debug`, and no error carries a secret or a password.
//!   (Intermediate buffers inside `eth-keystore`, such as the derived scrypt key, are outside this
//!   crate's control.)
//! * **Untrusted files are checked before decryption**: version, cipher, field lengths and KDF
//!   parameters (scrypt memory capped at 256 MiB), so a malformed file yields
//!   [`KeystoreError::Corrupt`] rather than a panic or memory exhaustion. A file whose ciphertext
//!   or MAC was altered cannot be told apart from a wrong password and yields
//!   [`KeystoreError::WrongPassword`].
//!
//! Permission handling is Unix-only; elsewhere files get the platform's default permissions.

mod error;
mod keystore;
mod name;
mod secret;
mod v3;

pub use alloy::signers::local::PrivateKeySigner;
pub use error::{KeystoreError, Result};
pub use keystore::{KeyInfo, Keystore};
pub use name::{MAX_NAME_LEN, validate_name};
pub use secret::SecretKey;
