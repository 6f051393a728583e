//! Key name validation.

use crate::error::{KeystoreError, Result};

/// The longest allowed key name, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// Checks that `name` is a valid key name: 1 to [`MAX_NAME_LEN`] characters, each an ASCII letter,
/// digit, `.`, `_` or `-`, the first a letter or digit (so no `.`, `..`, hidden file or flag-like name).
///
/// # Errors
///
/// [`KeystoreError::InvalidName`], naming the rule that was broken.
pub fn validate_name(name: &str) -> Result<()> {
    let rule = if name.is_empty() {
        Some("a key name must not be empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("a key name must be at most 64 characters long")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        Some("a key name may only contain ASCII letters, digits, '.', '_' and '-' ([A-Za-z0-9._-])")
    } else if !name.as_bytes()[0].is_ascii_alphanumeric() {
        Some(
            "a key name must start with a letter or digit (not '.', '_' or '-': '.', '..' and hidden names are refused)",
        )
    } else {
        None
    };
    match rule {
        Some(rule) => Err(KeystoreError::InvalidName { name: name.to_owned(), rule }),
        None => Ok(()),
    }
}
