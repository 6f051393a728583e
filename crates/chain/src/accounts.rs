//! Third-party ERC-7579 accounts to run sessions on: Biconomy Nexus 1.0.0 and ZeroDev Kernel v3.1, from the
//! creation code `@rhinestone/modulekit@0.5.9` publishes ([`artifacts::modulekit_creation_code`]), each built for
//! the EntryPoint it is given. Their owner is an ECDSA key held by Warrant's `OwnerValidator`, installed when the
//! account is created (modulekit ships no owner validator; see `contracts/src/OwnerValidator.sol`).

use alloy::{
    primitives::{Address, B256, Bytes},
    sol,
    sol_types::{SolCall, SolValue},
};
use warrant_core::account::{AccountKind, KERNEL_NO_HOOK};

use crate::{ChainError, artifacts};

sol! {
    /// Nexus 1.0.0's factory.
    interface INexusAccountFactory {
        function createAccount(bytes initData, bytes32 salt) external payable returns (address);
    }

    /// Nexus 1.0.0's bootstrap, delegate-called by the account's `initializeAccount`.
    interface INexusBootstrap {
        function initNexusWithSingleValidator(
            address validator,
            bytes data,
            address registry,
            address[] attesters,
            uint8 threshold
        ) external;
    }

    /// Kernel v3.1's factory.
    interface IKernelFactory {
        function createAccount(bytes data, bytes32 salt) external payable returns (address);
    }

    /// Kernel v3.1's initializer (what its factory calls on the new proxy).
    interface IKernelAccount {
        function initialize(
            bytes21 rootValidator,
            address hook,
            bytes validatorData,
            bytes hookData,
            bytes[] initConfig
        ) external;
    }

    /// What every ERC-7579 account answers.
    interface IAccountId {
        function accountId() external view returns (string);
    }
}

/// The third-party account contracts deployed on a chain, and the owner validator they share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForeignAccounts {
    /// Nexus 1.0.0's implementation.
    pub nexus_implementation: Address,
    /// Nexus 1.0.0's `NexusAccountFactory`.
    pub nexus_factory: Address,
    /// Nexus 1.0.0's `NexusBootstrap`.
    pub nexus_bootstrap: Address,
    /// Kernel v3.1's implementation.
    pub kernel_implementation: Address,
    /// Kernel v3.1's factory.
    pub kernel_factory: Address,
    /// Warrant's `OwnerValidator`, the owner's key on both.
    pub owner_validator: Address,
}

const NEXUS: &str = "NexusPrecompiles.sol";
const KERNEL: &str = "KernelPrecompiles.sol";

fn with_args(code: Bytes, args: &[u8]) -> Bytes {
    [code.as_ref(), args].concat().into()
}

/// Nexus 1.0.0's implementation, for `entry_point`.
pub fn nexus_implementation_code(entry_point: Address) -> Result<Bytes, ChainError> {
    Ok(with_args(artifacts::modulekit_creation_code(NEXUS, "NEXUS_BYTECODE")?, &entry_point.abi_encode()))
}

/// Nexus 1.0.0's factory over `implementation`; `owner` may stake it.
pub fn nexus_factory_code(implementation: Address, owner: Address) -> Result<Bytes, ChainError> {
    let code = artifacts::modulekit_creation_code(NEXUS, "NEXUS_ACCOUNT_FACTORY_BYTECODE")?;
    Ok(with_args(code, &(implementation, owner).abi_encode_params()))
}

/// Nexus 1.0.0's bootstrap.
pub fn nexus_bootstrap_code() -> Result<Bytes, ChainError> {
    artifacts::modulekit_creation_code(NEXUS, "NEXUS_BOOTSTRAP_BYTECODE")
}

/// Kernel v3.1's implementation, for `entry_point`.
pub fn kernel_implementation_code(entry_point: Address) -> Result<Bytes, ChainError> {
    Ok(with_args(artifacts::modulekit_creation_code(KERNEL, "KERNEL_BYTECODE")?, &entry_point.abi_encode()))
}

/// Kernel v3.1's factory over `implementation`.
pub fn kernel_factory_code(implementation: Address) -> Result<Bytes, ChainError> {
    let code = artifacts::modulekit_creation_code(KERNEL, "KERNEL_FACTORY_BYTECODE")?;
    Ok(with_args(code, &implementation.abi_encode()))
}

/// Warrant's `OwnerValidator` from forge's output.
pub fn owner_validator_code() -> Result<Bytes, ChainError> {
    artifacts::warrant_creation_code("OwnerValidator.sol", "OwnerValidator")
}

/// The factory call that creates a `kind` account owned by `owner` (through `OwnerValidator`), and the factory
/// it goes to. `WarrantAccount`s come from `WarrantAccountFactory`, which this does not cover.
pub fn create_account_call(
    kind: AccountKind,
    contracts: &ForeignAccounts,
    owner: Address,
    salt: B256,
) -> Result<(Address, Bytes), ChainError> {
    let owner_data = Bytes::copy_from_slice(owner.as_slice());
    match kind {
        AccountKind::Nexus => {
            let bootstrap = INexusBootstrap::initNexusWithSingleValidatorCall {
                validator: contracts.owner_validator,
                data: owner_data,
                // No ERC-7484 registry: modules are not checked against attestations.
                registry: Address::ZERO,
                attesters: vec![],
                threshold: 0,
            }
            .abi_encode();
            let init_data = (contracts.nexus_bootstrap, Bytes::from(bootstrap)).abi_encode_params();
            let call = INexusAccountFactory::createAccountCall { initData: init_data.into(), salt };
            Ok((contracts.nexus_factory, call.abi_encode().into()))
        }
        AccountKind::Kernel => {
            let mut root = [0u8; 21];
            root[0] = 0x01; // a plain validator
            root[1..].copy_from_slice(contracts.owner_validator.as_slice());
            let init = IKernelAccount::initializeCall {
                rootValidator: root.into(),
                hook: KERNEL_NO_HOOK,
                validatorData: owner_data,
                hookData: Bytes::new(),
                initConfig: vec![],
            }
            .abi_encode();
            let call = IKernelFactory::createAccountCall { data: init.into(), salt };
            Ok((contracts.kernel_factory, call.abi_encode().into()))
        }
        AccountKind::WarrantAccount => Err(ChainError::DeploymentFailed(
            "WarrantAccount accounts come from WarrantAccountFactory.createAccount(owner, salt)".into(),
        )),
    }
}
