//! The [`Keystore`] directory and its key files.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
};

use alloy::{hex, primitives::Address, signers::local::PrivateKeySigner};
use eth_keystore::{CryptoJson, KdfType, KdfparamsType};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::{
    error::{KeystoreError, Result},
    name::validate_name,
    secret::SecretKey,
};

/// Extension of key files.
const KEY_FILE_EXT: &str = "json";
/// log2 of scrypt's n for new keys: 2^18 = 262,144, geth's standard cost (256 MiB with r = 8).
const STANDARD_SCRYPT_LOG_N: u8 = 18;
/// The least cost [`Keystore::with_scrypt_log_n`] accepts: eth-keystore 0.5's 2^13.
const MIN_SCRYPT_LOG_N: u8 = 13;
/// Key files larger than this are refused as corrupt without being parsed.
const MAX_KEY_FILE_LEN: u64 = 64 * 1024;
/// Largest scrypt memory cost (`128 * r * n` bytes) accepted from a key file: 256 MiB, geth's
/// "standard" setting. Guards against a file that would exhaust memory.
const MAX_SCRYPT_MEM: u64 = 256 * 1024 * 1024;
/// Largest PBKDF2 iteration count accepted from a key file.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

/// Public facts about a stored key; obtaining them never decrypts anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name (its file is `<name>.json`).
    pub name: String,
    /// The Ethereum address of the key.
    pub address: Address,
    /// The key file.
    pub path: PathBuf,
}

/// A directory of encrypted key files; see the [crate docs](crate) for the on-disk layout.
///
/// A `Keystore` holds no secrets: it is just the directory path.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
    scrypt_log_n: u8,
}

/// The parts of a key file this crate reads without decrypting.
#[derive(Deserialize)]
struct KeyFile {
    version: u8,
    address: Option<String>,
    crypto: CryptoJson,
}

impl Keystore {
    /// Opens the keystore in `dir`, creating the directory (and missing parents) with mode 0700
    /// if it does not exist. An existing directory's permissions are left as they are, but one that
    /// group or others can write to is refused: they could replace a key file with their own.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::Io`] if the directory cannot be created or `dir` is not a directory;
    /// [`KeystoreError::InsecureDirectory`] if group or others can write to it.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&dir).map_err(|e| KeystoreError::io(&dir, e))?;
        let meta = fs::metadata(&dir).map_err(|e| KeystoreError::io(&dir, e))?;
        if !meta.is_dir() {
            return Err(KeystoreError::io(&dir, io::Error::other("not a directory")));
        }
        check_directory_permissions(&dir, &meta)?;
        Ok(Self { dir, scrypt_log_n: STANDARD_SCRYPT_LOG_N })
    }

    /// Writes new keys at scrypt cost n = 2^`log_n` instead of the standard 2^18 (reading is unaffected: every
    /// file carries its own cost). For tests of everything but the cost, and for devices that cannot spend
    /// 256 MiB; `warrant` itself never lowers it.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::Io`] naming the bounds if `log_n` is below 13
    /// (eth-keystore's own cost, the least this crate writes) or above 18 (the 256 MiB cap on reading).
    pub fn with_scrypt_log_n(mut self, log_n: u8) -> Result<Self> {
        if !(MIN_SCRYPT_LOG_N..=STANDARD_SCRYPT_LOG_N).contains(&log_n) {
            return Err(KeystoreError::io(
                &self.dir,
                io::Error::other(format!(
                    "scrypt log2(n) = {log_n} is outside {MIN_SCRYPT_LOG_N}..={STANDARD_SCRYPT_LOG_N}"
                )),
            ));
        }
        self.scrypt_log_n = log_n;
        Ok(self)
    }

    /// The keystore directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the key file for `name` (whether or not it exists).
    ///
    /// # Errors
    ///
    /// [`KeystoreError::InvalidName`] if `name` is not a valid key name.
    pub fn key_path(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        Ok(self.dir.join(format!("{name}.{KEY_FILE_EXT}")))
    }

    /// Generates a fresh random secp256k1 key, stores it under `name` encrypted with `password`,
    /// and returns its public facts.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::InvalidName`], [`KeystoreError::KeyExists`] (nothing is overwritten), or
    /// [`KeystoreError::Io`].
    pub fn create(&self, name: &str, password: impl AsRef<[u8]>) -> Result<KeyInfo> {
        // Fail fast (before key generation and scrypt) on a bad or taken name.
        self.check_free(name)?;
        let secret = SecretKey::random();
        self.store(name, &secret, password.as_ref())
    }

    /// Stores an existing secret key under `name`, encrypted with `password`.
    ///
    /// # Errors
    ///
    /// As for [`create`](Self::create).
    pub fn import(&self, name: &str, secret: &SecretKey, password: impl AsRef<[u8]>) -> Result<KeyInfo> {
        self.check_free(name)?;
        self.store(name, secret, password.as_ref())
    }

    /// Lists every key in the keystore, sorted by name, without decrypting any of them.
    ///
    /// Only files named `<valid name>.json` are considered; anything else in the directory
    /// (including this crate's temporary files) is ignored.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::InsecurePermissions`] or [`KeystoreError::Corrupt`] if any key file is
    /// accessible by group/others or unreadable as a key file; [`KeystoreError::Io`].
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| KeystoreError::io(&self.dir, e))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| KeystoreError::io(&self.dir, e))?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if validate_name(name).is_err() {
                continue;
            }
            keys.push(self.load(name)?);
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// The public facts about the key `name`, without decrypting it.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::NotFound`], [`KeystoreError::InvalidName`],
    /// [`KeystoreError::InsecurePermissions`], [`KeystoreError::Corrupt`], [`KeystoreError::Io`].
    pub fn info(&self, name: &str) -> Result<KeyInfo> {
        self.load(name)
    }

    /// The address of the key `name`, without decrypting it.
    ///
    /// # Errors
    ///
    /// As for [`info`](Self::info).
    pub fn address(&self, name: &str) -> Result<Address> {
        self.info(name).map(|info| info.address)
    }

    /// Decrypts the key `name` with `password` and returns a signer for it.
    ///
    /// The decrypted key is checked against the address stored in the file.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::WrongPassword`] (also reported for an altered ciphertext or MAC),
    /// [`KeystoreError::Corrupt`], [`KeystoreError::InsecurePermissions`],
    /// [`KeystoreError::NotFound`], [`KeystoreError::InvalidName`], [`KeystoreError::Io`].
    pub fn unlock(&self, name: &str, password: impl AsRef<[u8]>) -> Result<PrivateKeySigner> {
        let info = self.load(name)?;
        let path = &info.path;
        let password = password.as_ref();
        // `load` validated every field that eth-keystore would otherwise index or `unwrap`
        // unchecked; catching a panic is a second line of defence (e.g. if the file was swapped
        // in between), never the expected path.
        let decrypted = panic::catch_unwind(AssertUnwindSafe(|| eth_keystore::decrypt_key(path, password)))
            .map_err(|_| KeystoreError::corrupt(path, "malformed crypto parameters"))?;
        let secret = Zeroizing::new(decrypted.map_err(|e| map_decrypt_error(path, e))?);
        let signer = PrivateKeySigner::from_slice(&secret).map_err(|_| {
            KeystoreError::corrupt(path, "decrypted data is not a valid secp256k1 secret key")
        })?;
        if signer.address() != info.address {
            return Err(KeystoreError::corrupt(
                path,
                format!("decrypted key has address {}, but the file says {}", signer.address(), info.address),
            ));
        }
        Ok(signer)
    }

    /// Decrypts a Web3 Secret Storage v3 key file from elsewhere (geth, Foundry's `cast wallet`, MetaMask's
    /// export…) with its `password`, for [`import`](Self::import). The file is checked as the keystore's own are
    /// (size, version, cipher, KDF cost capped at 256 MiB) but may lack the `address` field; its permissions
    /// are not checked (it is not kept).
    ///
    /// # Errors
    ///
    /// [`KeystoreError::WrongPassword`], [`KeystoreError::Corrupt`], [`KeystoreError::Io`].
    pub fn decrypt_file(path: &Path, password: impl AsRef<[u8]>) -> Result<SecretKey> {
        let mut file = File::open(path).map_err(|e| KeystoreError::io(path, e))?;
        let meta = file.metadata().map_err(|e| KeystoreError::io(path, e))?;
        if !meta.is_file() {
            return Err(KeystoreError::corrupt(path, "not a regular file"));
        }
        if meta.len() > MAX_KEY_FILE_LEN {
            return Err(KeystoreError::corrupt(path, format!("larger than {MAX_KEY_FILE_LEN} bytes")));
        }
        let mut json = String::new();
        file.read_to_string(&mut json).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => KeystoreError::corrupt(path, "not UTF-8 text"),
            _ => KeystoreError::io(path, e),
        })?;
        let key_file: KeyFile = serde_json::from_str(&json).map_err(|e| {
            KeystoreError::corrupt(path, format!("not a v3 key file: {}", describe_json_error(&e)))
        })?;
        let address = check_crypto(path, &key_file)?;
        let password = password.as_ref();
        let decrypted = panic::catch_unwind(AssertUnwindSafe(|| eth_keystore::decrypt_key(path, password)))
            .map_err(|_| KeystoreError::corrupt(path, "malformed crypto parameters"))?;
        let secret = Zeroizing::new(decrypted.map_err(|e| map_decrypt_error(path, e))?);
        let secret = SecretKey::from_bytes(&secret).map_err(|_| {
            KeystoreError::corrupt(path, "decrypted data is not a valid secp256k1 secret key")
        })?;
        if let Some(address) = address
            && secret.address() != address
        {
            return Err(KeystoreError::corrupt(
                path,
                format!("decrypted key has address {}, but the file says {address}", secret.address()),
            ));
        }
        Ok(secret)
    }

    /// Errors unless `name` is valid and no key file (or anything else) has its path.
    fn check_free(&self, name: &str) -> Result<PathBuf> {
        let path = self.key_path(name)?;
        match fs::symlink_metadata(&path) {
            Ok(_) => Err(KeystoreError::KeyExists { name: name.to_owned() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path),
            Err(e) => Err(KeystoreError::io(path, e)),
        }
    }

    /// Encrypts `secret` into `<name>.json`, atomically and without ever replacing a file.
    fn store(&self, name: &str, secret: &SecretKey, password: &[u8]) -> Result<KeyInfo> {
        let path = self.check_free(name)?;
        let address = secret.address();

        // Written fully and synced under a unique temporary name in the same directory, then published.
        let mut nonce = [0u8; 8];
        rand_08::RngCore::fill_bytes(&mut rand_08::rngs::OsRng, &mut nonce);
        let tmp = TempFile(self.dir.join(format!(".{name}.{}.tmp", hex::encode(nonce))));
        let value = crate::v3::encrypt(secret, password, self.scrypt_log_n)?;
        let json = serde_json::to_vec_pretty(&value).map_err(|e| KeystoreError::io(&tmp.0, e.into()))?;
        write_new_private(&tmp.0, &json)?;

        // Publish atomically. A hard link, unlike rename, fails if the target exists, so even a
        // concurrent writer can never make us replace (and lose) a key.
        fs::hard_link(&tmp.0, &path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => KeystoreError::KeyExists { name: name.to_owned() },
            _ => KeystoreError::io(&path, e),
        })?;
        drop(tmp);
        sync_dir(&self.dir)?;
        Ok(KeyInfo { name: name.to_owned(), address, path })
    }

    /// Reads and checks the key file for `name` without decrypting it.
    fn load(&self, name: &str) -> Result<KeyInfo> {
        let path = self.key_path(name)?;
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => KeystoreError::NotFound { name: name.to_owned() },
            _ => KeystoreError::io(&path, e),
        })?;
        let meta = file.metadata().map_err(|e| KeystoreError::io(&path, e))?;
        if !meta.is_file() {
            return Err(KeystoreError::corrupt(&path, "not a regular file"));
        }
        check_permissions(&path, &meta)?;
        if meta.len() > MAX_KEY_FILE_LEN {
            return Err(KeystoreError::corrupt(&path, format!("larger than {MAX_KEY_FILE_LEN} bytes")));
        }
        let mut json = String::new();
        file.read_to_string(&mut json).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => KeystoreError::corrupt(&path, "not UTF-8 text"),
            _ => KeystoreError::io(&path, e),
        })?;
        let key_file: KeyFile = serde_json::from_str(&json).map_err(|e| {
            KeystoreError::corrupt(&path, format!("not a v3 key file: {}", describe_json_error(&e)))
        })?;
        let address = check_key_file(&path, &key_file)?;
        Ok(KeyInfo { name: name.to_owned(), address, path })
    }
}

/// Checks everything eth-keystore's decryption relies on, and returns the stored address.
fn check_key_file(path: &Path, key_file: &KeyFile) -> Result<Address> {
    check_crypto(path, key_file)?.ok_or_else(|| KeystoreError::corrupt(path, "no \"address\" field"))
}

/// Checks the version and the crypto parameters, and returns the stored address, if any.
fn check_crypto(path: &Path, key_file: &KeyFile) -> Result<Option<Address>> {
    let bad = |reason: String| Err(KeystoreError::corrupt(path, reason));
    if key_file.version != 3 {
        return bad(format!("unsupported version {} (expected 3)", key_file.version));
    }
    let address = match &key_file.address {
        None => None,
        Some(address) => match address.parse::<Address>() {
            Ok(address) => Some(address),
            Err(_) => return bad(format!("\"address\" is not a 20-byte hex address: {}", shown(address))),
        },
    };
    let crypto = &key_file.crypto;
    if crypto.cipher != "aes-128-ctr" {
        return bad(format!("unsupported cipher {} (expected aes-128-ctr)", shown(&crypto.cipher)));
    }
    if crypto.cipherparams.iv.len() != 16 {
        return bad(format!("iv is {} bytes (expected 16)", crypto.cipherparams.iv.len()));
    }
    if crypto.ciphertext.len() != 32 {
        return bad(format!("ciphertext is {} bytes (expected 32)", crypto.ciphertext.len()));
    }
    if crypto.mac.len() != 32 {
        return bad(format!("mac is {} bytes (expected 32)", crypto.mac.len()));
    }
    match (&crypto.kdf, &crypto.kdfparams) {
        (KdfType::Scrypt, KdfparamsType::Scrypt { dklen, n, p, r, .. }) => {
            if *dklen != 32 {
                return bad(format!("scrypt dklen is {dklen} (expected 32)"));
            }
            if !n.is_power_of_two() || *n < 2 {
                return bad(format!("scrypt n = {n} is not a power of two greater than 1"));
            }
            if *r == 0 || *p == 0 || *p > 16 {
                return bad(format!("scrypt r = {r}, p = {p} out of range"));
            }
            if 128 * u64::from(*r) * u64::from(*n) > MAX_SCRYPT_MEM {
                return bad(format!("scrypt n = {n}, r = {r} would need more than 256 MiB"));
            }
        }
        (KdfType::Pbkdf2, KdfparamsType::Pbkdf2 { c, dklen, prf, .. }) => {
            if *dklen != 32 {
                return bad(format!("pbkdf2 dklen is {dklen} (expected 32)"));
            }
            if prf != "hmac-sha256" {
                return bad(format!("unsupported pbkdf2 prf {} (expected hmac-sha256)", shown(prf)));
            }
            if *c == 0 || *c > MAX_PBKDF2_ROUNDS {
                return bad(format!("pbkdf2 iteration count {c} out of range"));
            }
        }
        _ => return bad("\"kdf\" does not match \"kdfparams\"".into()),
    }
    Ok(address)
}

/// A string read from a key file, fit for an error message: short identifiers are quoted, anything else
/// (which could be a secret someone put in the wrong field) is described by its length only.
fn shown(value: &str) -> String {
    let mut hex_run = 0usize;
    let mut longest = 0usize;
    for b in value.bytes() {
        hex_run = if b.is_ascii_hexdigit() { hex_run + 1 } else { 0 };
        longest = longest.max(hex_run);
    }
    if value.len() <= 24 && longest < 16 {
        format!("{value:?}")
    } else {
        format!("(a {}-character value, not shown)", value.chars().count())
    }
}

/// What is wrong with a key file's JSON, without serde_json's quotes of the offending values (a key file
/// may hold anything, a pasted secret included); only "missing field" messages, which name our own fields,
/// are kept as they are.
fn describe_json_error(e: &serde_json::Error) -> String {
    let position = format!("at line {} column {}", e.line(), e.column());
    let message = e.to_string();
    if message.starts_with("missing field ") {
        return message;
    }
    match e.classify() {
        serde_json::error::Category::Io => format!("unreadable {position}"),
        serde_json::error::Category::Syntax => format!("invalid JSON {position}"),
        serde_json::error::Category::Eof => format!("JSON ends early {position}"),
        serde_json::error::Category::Data => {
            format!("a field has the wrong type, length or an unknown value {position}")
        }
    }
}

/// Maps an eth-keystore decryption error (which never contains secrets) to ours.
fn map_decrypt_error(path: &Path, e: eth_keystore::KeystoreError) -> KeystoreError {
    match e {
        eth_keystore::KeystoreError::MacMismatch => KeystoreError::WrongPassword,
        eth_keystore::KeystoreError::StdIo(msg) => KeystoreError::io(path, io::Error::other(msg)),
        other => KeystoreError::corrupt(path, other.to_string()),
    }
}

/// Refuses a key file that group or others can access in any way.
#[cfg(unix)]
fn check_permissions(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeystoreError::InsecurePermissions { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<()> {
    Ok(())
}

/// Refuses a keystore directory that group or others can write to (reading it only shows names).
#[cfg(unix)]
fn check_directory_permissions(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(KeystoreError::InsecureDirectory { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_directory_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<()> {
    Ok(())
}

/// Creates the (private, unpublished) file `path` with `contents` and syncs it to disk.
fn write_new_private(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| KeystoreError::io(path, e))?;
    file.write_all(contents).map_err(|e| KeystoreError::io(path, e))?;
    file.sync_all().map_err(|e| KeystoreError::io(path, e))
}

/// Makes a new directory entry durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| KeystoreError::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A temporary file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
