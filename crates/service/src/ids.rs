//! Ids and secrets.

use rand::RngCore;

/// A fresh id: `prefix_` and 16 bytes in hex, the first 6 the creation time in milliseconds and the other 10
/// random. Time first so that rows are inserted in their indexes' order (a random key dirties a page of each index
/// per row, and every dirty page is written out at commit); 80 random bits keep ids from colliding or being
/// guessed. An id says when it was made, which the rows' `created_at` says anyway.
pub fn new_id(prefix: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    rand::rng().fill_bytes(&mut bytes[6..]);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
