//! Account adapters: what differs between the ERC-7579 accounts a session can live on. Everything else (the
//! `execute` calldata, the `userOpHash`, the module signatures, the grant and its digest) is the same on every
//! account, because `WarrantValidator` never reads the nonce and judges only the operation it is given.
//!
//! | | nonce key (24 bytes) | installing the validator | owner's ERC-1271 signature of a grant |
//! |---|---|---|---|
//! | `WarrantAccount` | `validator(20) ‖ suffix(4)` | `installModule(1, v, "")` | ERC-7739 `TypedDataSign` envelope |
//! | Nexus 1.0.0 | `0x000000 ‖ mode(1) ‖ validator(20)` | `installModule(1, v, "")` | `ownerValidator(20) ‖ sig` over the grant digest |
//! | Kernel v3.1 | `mode(1) ‖ type(1) ‖ validator(20) ‖ parallelKey(2)` | `installModule(1, v, hook ‖ abi.encode(data, hookData, selector))` | `0x01 ‖ ownerValidator(20) ‖ sig` over Kernel's wrapped digest |
//!
//! The kind is told apart by the account's `accountId()` ([`AccountKind::from_account_id`]).

use alloy_primitives::{Address, B256, Bytes, U256, address, aliases::U192, keccak256};
use alloy_sol_types::{SolCall, SolValue, eip712_domain, sol};

use crate::{CoreError, grant::Grant};

sol! {
    /// ERC-7579 `installModule`.
    function installModule(uint256 moduleTypeId, address module, bytes initData);
}

/// ERC-7579 module type of a validator.
pub const MODULE_TYPE_VALIDATOR: u64 = 1;

/// `execute(bytes32,bytes)`, the one selector a session's operations call on the account.
pub const EXECUTE_SELECTOR: [u8; 4] = [0xe9, 0xae, 0x5c, 0x53];

/// Kernel's "no hook" marker in a validation's configuration (`address(0)` would mean "not installed").
pub const KERNEL_NO_HOOK: Address = address!("0x0000000000000000000000000000000000000001");

/// The account implementations Warrant knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Warrant's own `WarrantAccount` (OpenZeppelin `AccountERC7579`), as an EIP-7702 delegate or a proxy.
    WarrantAccount,
    /// Biconomy Nexus 1.0.0.
    Nexus,
    /// ZeroDev Kernel v3.1.
    Kernel,
}

impl AccountKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [AccountKind; 3] = [AccountKind::WarrantAccount, AccountKind::Nexus, AccountKind::Kernel];

    /// The short name the CLI takes (`--account-kind`).
    pub fn name(self) -> &'static str {
        match self {
            Self::WarrantAccount => "warrant",
            Self::Nexus => "nexus",
            Self::Kernel => "kernel",
        }
    }

    /// The kind named `name` ([`AccountKind::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What the implementation's `accountId()` returns.
    pub fn account_id(self) -> &'static str {
        match self {
            Self::WarrantAccount => "@openzeppelin/contracts.AccountERC7579.v1.0.0",
            Self::Nexus => "biconomy.nexus.1.0.0",
            Self::Kernel => "kernel.advanced.v0.3.1",
        }
    }

    /// The kind whose `accountId()` is `id`; an error naming the id and the known ones otherwise.
    pub fn from_account_id(id: &str) -> Result<Self, CoreError> {
        Self::ALL.into_iter().find(|k| k.account_id() == id).ok_or_else(|| CoreError::UnknownAccount {
            account_id: id.to_owned(),
            known: Self::ALL.iter().map(|k| format!("{} ({})", k.account_id(), k.name())).collect(),
        })
    }

    /// The adapter that holds this kind's differences.
    pub fn adapter(self) -> &'static dyn AccountAdapter {
        match self {
            Self::WarrantAccount => &WarrantAccount,
            Self::Nexus => &Nexus,
            Self::Kernel => &Kernel,
        }
    }

    /// The EntryPoint nonce key under which `validator` validates the account's operations
    /// ([`AccountAdapter::nonce_key`]).
    pub fn nonce_key(self, validator: Address, key_suffix: u32) -> Result<U192, CoreError> {
        self.adapter().nonce_key(validator, key_suffix)
    }

    /// The whole nonce: the key, then the 64-bit sequence.
    pub fn nonce(self, validator: Address, key_suffix: u32, sequence: u64) -> Result<U256, CoreError> {
        Ok((U256::from(self.nonce_key(validator, key_suffix)?) << 64) | U256::from(sequence))
    }

    /// The account's calldata that installs `validator` with `init_data` ([`AccountAdapter::install_validator`]).
    pub fn install_validator(self, validator: Address, init_data: &[u8]) -> Bytes {
        self.adapter().install_validator(validator, init_data)
    }
}

impl std::fmt::Display for AccountKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What differs from one account implementation to the next.
pub trait AccountAdapter: Sync {
    /// Which kind this is.
    fn kind(&self) -> AccountKind;

    /// The 24-byte EntryPoint nonce key that makes the account validate with `validator`; `key_suffix` selects a
    /// parallel nonce sequence where the layout has room for one (an error names the room otherwise).
    fn nonce_key(&self, validator: Address, key_suffix: u32) -> Result<U192, CoreError>;

    /// The nonce key of the owner's own operations (installing modules, enabling or revoking sessions), given the
    /// validator that holds the owner's key where the account has one.
    fn owner_nonce_key(&self, owner_validator: Option<Address>) -> Result<U192, CoreError>;

    /// The account's calldata that installs `validator` (an ERC-7579 validator) with `init_data`, such that the
    /// validator can then validate `execute` operations.
    fn install_validator(&self, validator: Address, init_data: &[u8]) -> Bytes;

    /// The digest the owner's key signs so that the account's ERC-1271 check accepts the grant.
    fn grant_signing_digest(&self, grant: &Grant, module: Address, chain_id: u64) -> B256;

    /// Wraps the owner's 65-byte signature of [`AccountAdapter::grant_signing_digest`] the way the account's
    /// `isValidSignature` expects. `owner_validator` is the account's validator that holds the owner's key; an
    /// account that checks its owner itself ignores it, the others refuse `None`.
    fn wrap_grant_signature(
        &self,
        grant: &Grant,
        module: Address,
        chain_id: u64,
        owner_validator: Option<Address>,
        raw_signature: &[u8],
    ) -> Result<Bytes, CoreError>;
}

fn key_from_bytes(bytes: [u8; 24]) -> U192 {
    U192::from_be_bytes(bytes)
}

fn plain_install(validator: Address, init_data: &[u8]) -> Bytes {
    installModuleCall {
        moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
        module: validator,
        initData: Bytes::copy_from_slice(init_data),
    }
    .abi_encode()
    .into()
}

fn need_owner_validator(kind: AccountKind, owner_validator: Option<Address>) -> Result<Address, CoreError> {
    owner_validator.ok_or(CoreError::OwnerValidatorNeeded { kind: kind.name() })
}

/// Warrant's `WarrantAccount`: the validator in the top 20 bytes of the key (OpenZeppelin's rule), the owner
/// checked by the account itself with ERC-7739 rehashing.
#[derive(Clone, Copy, Debug, Default)]
pub struct WarrantAccount;

impl AccountAdapter for WarrantAccount {
    fn kind(&self) -> AccountKind {
        AccountKind::WarrantAccount
    }

    fn nonce_key(&self, validator: Address, key_suffix: u32) -> Result<U192, CoreError> {
        let mut key = [0u8; 24];
        key[..20].copy_from_slice(validator.as_slice());
        key[20..].copy_from_slice(&key_suffix.to_be_bytes());
        Ok(key_from_bytes(key))
    }

    fn owner_nonce_key(&self, _owner_validator: Option<Address>) -> Result<U192, CoreError> {
        // A key naming no installed validator: the account checks its owner's signature itself.
        Ok(U192::ZERO)
    }

    fn install_validator(&self, validator: Address, init_data: &[u8]) -> Bytes {
        plain_install(validator, init_data)
    }

    fn grant_signing_digest(&self, grant: &Grant, module: Address, chain_id: u64) -> B256 {
        grant.erc7739_digest(module, chain_id)
    }

    fn wrap_grant_signature(
        &self,
        grant: &Grant,
        module: Address,
        chain_id: u64,
        _owner_validator: Option<Address>,
        raw_signature: &[u8],
    ) -> Result<Bytes, CoreError> {
        Ok(grant.erc7739_signature(module, chain_id, raw_signature))
    }
}

/// Biconomy Nexus 1.0.0: key `0x000000 ‖ mode ‖ validator` (mode 0x00 validates; 0x01 would enable a module
/// first), no room for a parallel key; `isValidSignature` routes to the validator named in the signature's
/// first 20 bytes and passes the hash unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nexus;

impl AccountAdapter for Nexus {
    fn kind(&self) -> AccountKind {
        AccountKind::Nexus
    }

    fn nonce_key(&self, validator: Address, key_suffix: u32) -> Result<U192, CoreError> {
        if key_suffix != 0 {
            return Err(CoreError::NonceKeySuffix { kind: "nexus", suffix: key_suffix, max: 0 });
        }
        let mut key = [0u8; 24];
        key[4..].copy_from_slice(validator.as_slice());
        Ok(key_from_bytes(key))
    }

    fn owner_nonce_key(&self, owner_validator: Option<Address>) -> Result<U192, CoreError> {
        self.nonce_key(need_owner_validator(self.kind(), owner_validator)?, 0)
    }

    fn install_validator(&self, validator: Address, init_data: &[u8]) -> Bytes {
        plain_install(validator, init_data)
    }

    fn grant_signing_digest(&self, grant: &Grant, module: Address, chain_id: u64) -> B256 {
        grant.digest(module, chain_id)
    }

    fn wrap_grant_signature(
        &self,
        _grant: &Grant,
        _module: Address,
        _chain_id: u64,
        owner_validator: Option<Address>,
        raw_signature: &[u8],
    ) -> Result<Bytes, CoreError> {
        let validator = need_owner_validator(self.kind(), owner_validator)?;
        Ok([validator.as_slice(), raw_signature].concat().into())
    }
}

/// ZeroDev Kernel v3.1: key `mode ‖ type ‖ validator ‖ parallelKey` (mode 0x00 default, type 0x01 a plain
/// validator); a validator other than the root one must be granted the selectors it may validate, and its
/// installation names a hook (none: `address(1)`); `isValidSignature` reads `0x01 ‖ validator` first and hands
/// the validator Kernel's rehash of the hash under the account's own EIP-712 domain.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kernel;

sol! {
    /// Kernel v3.1's install data after the 20-byte hook.
    struct KernelValidatorInstall {
        bytes validatorData;
        bytes hookData;
        bytes selectorData;
    }
}

impl Kernel {
    /// `_toWrappedHash(hash)`: `keccak256(abi.encode(keccak256("Kernel(bytes32 hash)"), hash))` under the domain
    /// `{name: "Kernel", version: "0.3.1", chainId, verifyingContract: account}`.
    pub fn wrapped_hash(account: Address, chain_id: u64, hash: B256) -> B256 {
        let domain = eip712_domain! { name: "Kernel", version: "0.3.1", chain_id: chain_id, verifying_contract: account, };
        let struct_hash = keccak256((keccak256("Kernel(bytes32 hash)"), hash).abi_encode());
        keccak256([&[0x19, 0x01][..], domain.separator().as_slice(), struct_hash.as_slice()].concat())
    }
}

impl AccountAdapter for Kernel {
    fn kind(&self) -> AccountKind {
        AccountKind::Kernel
    }

    fn nonce_key(&self, validator: Address, key_suffix: u32) -> Result<U192, CoreError> {
        let parallel = u16::try_from(key_suffix).map_err(|_| CoreError::NonceKeySuffix {
            kind: "kernel",
            suffix: key_suffix,
            max: u16::MAX as u32,
        })?;
        let mut key = [0u8; 24];
        key[1] = 0x01; // VALIDATION_TYPE_VALIDATOR
        key[2..22].copy_from_slice(validator.as_slice());
        key[22..].copy_from_slice(&parallel.to_be_bytes());
        Ok(key_from_bytes(key))
    }

    fn owner_nonce_key(&self, _owner_validator: Option<Address>) -> Result<U192, CoreError> {
        // Type 0x00 is the root validation, the owner's; a plain-validator key would need each selector granted.
        Ok(U192::ZERO)
    }

    fn install_validator(&self, validator: Address, init_data: &[u8]) -> Bytes {
        let data = KernelValidatorInstall {
            validatorData: Bytes::copy_from_slice(init_data),
            hookData: Bytes::new(),
            selectorData: Bytes::copy_from_slice(&EXECUTE_SELECTOR),
        };
        let init = [KERNEL_NO_HOOK.as_slice(), &data.abi_encode_params()].concat();
        plain_install(validator, &init)
    }

    fn grant_signing_digest(&self, grant: &Grant, module: Address, chain_id: u64) -> B256 {
        Self::wrapped_hash(grant.account, chain_id, grant.digest(module, chain_id))
    }

    fn wrap_grant_signature(
        &self,
        _grant: &Grant,
        _module: Address,
        _chain_id: u64,
        owner_validator: Option<Address>,
        raw_signature: &[u8],
    ) -> Result<Bytes, CoreError> {
        let validator = need_owner_validator(self.kind(), owner_validator)?;
        Ok([&[0x01][..], validator.as_slice(), raw_signature].concat().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Address = address!("0x1111111111111111111111111111111111111111");

    #[test]
    fn nonce_layouts() {
        let w = AccountKind::WarrantAccount.nonce(V, 7, 9).unwrap().to_be_bytes::<32>();
        assert_eq!(&w[..20], V.as_slice());
        assert_eq!((&w[20..24], w[31]), (&[0, 0, 0, 7][..], 9));
        let n = AccountKind::Nexus.nonce(V, 0, 9).unwrap().to_be_bytes::<32>();
        assert_eq!((&n[..4], &n[4..24], w[31]), (&[0u8; 4][..], V.as_slice(), 9));
        assert!(AccountKind::Nexus.nonce_key(V, 1).is_err(), "Nexus has no parallel key");
        let k = AccountKind::Kernel.nonce(V, 0x0102, 9).unwrap().to_be_bytes::<32>();
        assert_eq!((k[0], k[1], &k[2..22], &k[22..24]), (0, 1, V.as_slice(), &[1, 2][..]));
        assert!(AccountKind::Kernel.nonce_key(V, 0x1_0000).is_err(), "Kernel's parallel key is 16 bits");
    }

    #[test]
    fn kernel_install_data() {
        let call = AccountKind::Kernel.install_validator(V, b"x");
        let decoded = installModuleCall::abi_decode(&call).unwrap();
        assert_eq!(decoded.module, V);
        assert_eq!(&decoded.initData[..20], KERNEL_NO_HOOK.as_slice());
        let rest = KernelValidatorInstall::abi_decode_params(&decoded.initData[20..]).unwrap();
        assert_eq!(rest.validatorData.as_ref(), b"x");
        assert_eq!(rest.selectorData.as_ref(), &EXECUTE_SELECTOR);
    }

    #[test]
    fn detection_by_account_id() {
        for kind in AccountKind::ALL {
            assert_eq!(AccountKind::from_account_id(kind.account_id()), Ok(kind));
            assert_eq!(AccountKind::from_name(kind.name()), Some(kind));
        }
        let e = AccountKind::from_account_id("safe7579.v1").unwrap_err().to_string();
        assert!(e.contains("safe7579.v1") && e.contains("kernel.advanced.v0.3.1"), "{e}");
    }

    #[test]
    fn foreign_grant_signatures_name_the_owner_validator() {
        let session = crate::grant::Session { signer: V, salt: B256::ZERO, scope: Default::default() };
        let grant = Grant { account: V, epoch: 0, session };
        let raw = [7u8; 65];
        let n = Nexus.wrap_grant_signature(&grant, V, 1, Some(V), &raw).unwrap();
        assert_eq!((&n[..20], n.len()), (V.as_slice(), 85));
        let k = Kernel.wrap_grant_signature(&grant, V, 1, Some(V), &raw).unwrap();
        assert_eq!((k[0], &k[1..21], k.len()), (1, V.as_slice(), 86));
        assert!(Kernel.wrap_grant_signature(&grant, V, 1, None, &raw).is_err());
    }
}
