//! The in-process chain: revm with funded dev accounts, a CREATE2 deployer and EntryPoint v0.8 at their
//! canonical addresses.

use std::{
    str::FromStr,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{
    eips::eip7702::{Authorization, SignedAuthorization},
    primitives::{Address, B256, Bytes, Log, TxKind, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolEvent, SolInterface},
};
use revm::{
    Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext, MainnetEvm,
    bytecode::Bytecode,
    context::{TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    handler::MainnetContext,
    primitives::hardfork::SpecId,
    state::AccountInfo,
};
use warrant_core::{
    IEntryPoint, PackedUserOperation,
    constants::{CREATE2_DEPLOYER, ENTRY_POINT_V08, ENTRY_POINT_V08_SALT},
};

use crate::{ChainError, artifacts};

/// Runtime code of our CREATE2 deployer: calldata is `salt ‖ initcode`; it runs `CREATE2(callvalue, initcode,
/// salt)` and returns the new address as 20 bytes, reverting if creation failed. Written for Warrant; only its
/// address and this behaviour matter for EntryPoint v0.8 to land on its canonical address.
const CREATE2_DEPLOYER_CODE: [u8; 40] = [
    0x36, // CALLDATASIZE
    0x60, 0x20, 0x90, 0x03, // size = calldatasize - 32
    0x80, 0x60, 0x20, 0x60, 0x00, 0x37, // calldatacopy(0, 32, size)
    0x60, 0x00, 0x35, // salt = calldataload(0)
    0x90, 0x60, 0x00, 0x34, 0xf5, // create2(callvalue, 0, size, salt)
    0x80, 0x15, 0x60, 0x23, 0x57, // if iszero(addr) jump to fail
    0x60, 0x60, 0x1b, 0x60, 0x00, 0x52, // mstore(0, addr << 96)
    0x60, 0x14, 0x60, 0x00, 0xf3, // return(0, 20)
    0x5b, 0x60, 0x00, 0x80, 0xfd, // fail: revert(0, 0)
];

/// Ether each dev account starts with.
const DEV_BALANCE_ETH: u64 = 1_000_000;
/// How many funded dev accounts the chain has.
const DEV_ACCOUNTS: usize = 10;
/// Base fee of every block, in wei: non-zero so that gas prices in user operations mean something.
const BASE_FEE: u64 = 1_000_000_000;
/// Gas limit used for transactions when the caller gives none: the EIP-7825 per-transaction cap.
const DEFAULT_TX_GAS: u64 = 1 << 24;

/// Which EVM rules the chain runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hardfork {
    /// Prague (Pectra): EIP-7702 and BLS12-381 precompiles.
    Prague,
    /// Osaka (Fusaka): the current mainnet rules, with the P256VERIFY precompile.
    #[default]
    Osaka,
}

impl Hardfork {
    fn spec(self) -> SpecId {
        match self {
            Self::Prague => SpecId::PRAGUE,
            Self::Osaka => SpecId::OSAKA,
        }
    }
}

impl FromStr for Hardfork {
    type Err = ChainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "prague" => Ok(Self::Prague),
            "osaka" => Ok(Self::Osaka),
            _ => Err(ChainError::UnknownHardfork(s.to_owned())),
        }
    }
}

/// Settings of an in-process chain.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// EVM rules.
    pub hardfork: Hardfork,
    /// Chain id (also used in EIP-712 domains and EIP-7702 authorizations).
    pub chain_id: u64,
    /// Timestamp of the first block; the current time if `None`.
    pub genesis_timestamp: Option<u64>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self { hardfork: Hardfork::default(), chain_id: 31337, genesis_timestamp: None }
    }
}

/// A transaction to execute.
#[derive(Clone, Debug, Default)]
pub struct TxRequest {
    /// The sender (must be an account the chain can charge; no signature is checked in-process).
    pub from: Address,
    /// The callee, or `None` to create a contract.
    pub to: Option<Address>,
    /// Ether sent.
    pub value: U256,
    /// Calldata or initcode.
    pub data: Bytes,
    /// Gas limit; the EIP-7825 cap if `None`.
    pub gas_limit: Option<u64>,
    /// EIP-7702 authorizations; non-empty makes this a type-4 transaction.
    pub authorization_list: Vec<SignedAuthorization>,
}

/// What a transaction did.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// Whether execution succeeded.
    pub success: bool,
    /// Total gas the transaction used (what the sender pays for).
    pub gas_used: u64,
    /// Logs emitted (empty when execution failed).
    pub logs: Vec<Log>,
    /// Return data, or revert data on failure.
    pub output: Bytes,
    /// The created contract, for a deployment.
    pub contract_address: Option<Address>,
}

/// What a `handleOps` bundle did.
#[derive(Clone, Debug)]
pub struct HandleOpsOutcome {
    /// The bundle transaction's receipt.
    pub receipt: Receipt,
    /// One `UserOperationEvent` per executed operation.
    pub user_operation_events: Vec<IEntryPoint::UserOperationEvent>,
    /// Revert reasons of operations whose execution reverted.
    pub revert_reasons: Vec<IEntryPoint::UserOperationRevertReason>,
    /// Why the whole bundle reverted (an operation failed validation), decoded.
    pub failure: Option<IEntryPoint::IEntryPointErrors>,
}

/// An in-process EVM chain running the real EntryPoint v0.8.
pub struct DevChain {
    evm: MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>,
    chain_id: u64,
    dev_signers: Vec<PrivateKeySigner>,
}

impl std::fmt::Debug for DevChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevChain").field("chain_id", &self.chain_id).finish_non_exhaustive()
    }
}

/// The address `CREATE2` gives `init_code` deployed by `deployer` under `salt`.
pub fn create2_address(deployer: Address, salt: B256, init_code: &[u8]) -> Address {
    deployer.create2(salt, keccak256(init_code))
}

impl DevChain {
    /// A new chain with funded dev accounts, the CREATE2 deployer and EntryPoint v0.8 deployed.
    pub fn new(config: ChainConfig) -> Result<Self, ChainError> {
        let timestamp = config.genesis_timestamp.unwrap_or_else(|| {
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
        });
        let spec = config.hardfork.spec();
        let chain_id = config.chain_id;
        let evm = Context::mainnet()
            .modify_cfg_chained(|cfg| {
                cfg.set_spec_and_mainnet_gas_params(spec);
                cfg.chain_id = chain_id;
                // Kernel v3.1's runtime code (28,581 bytes) is above EIP-170's limit, as on anvil with
                // --disable-code-size-limit.
                cfg.limit_contract_code_size = Some(usize::MAX);
            })
            .modify_block_chained(|block| {
                block.number = U256::from(1);
                block.timestamp = U256::from(timestamp);
                block.basefee = BASE_FEE;
                block.gas_limit = 60_000_000;
            })
            .with_db(CacheDB::<EmptyDB>::default())
            .build_mainnet();
        let dev_signers = (0..DEV_ACCOUNTS)
            .map(|i| {
                let key = keccak256(format!("warrant dev account {i}"));
                PrivateKeySigner::from_bytes(&key).map_err(|e| ChainError::Signing(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut chain = Self { evm, chain_id, dev_signers };
        let funds = U256::from(DEV_BALANCE_ETH) * U256::from(10).pow(U256::from(18));
        for signer in chain.dev_signers.clone() {
            chain.set_balance(signer.address(), funds);
        }
        chain.set_code(CREATE2_DEPLOYER, Bytes::from_static(&CREATE2_DEPLOYER_CODE));
        let entry_point =
            chain.create2_deploy(ENTRY_POINT_V08_SALT, artifacts::entry_point_creation_code()?)?;
        if entry_point != ENTRY_POINT_V08 {
            return Err(ChainError::WrongAddress {
                what: "EntryPoint v0.8",
                expected: ENTRY_POINT_V08,
                actual: entry_point,
            });
        }
        Ok(chain)
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The funded dev accounts' keys (deterministic: `keccak256("warrant dev account {i}")`).
    pub fn dev_signers(&self) -> &[PrivateKeySigner] {
        &self.dev_signers
    }

    /// The address of dev account `i`.
    pub fn dev_account(&self, i: usize) -> Address {
        self.dev_signers[i].address()
    }

    /// The current block timestamp.
    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.saturating_to()
    }

    /// Sets the timestamp of the next blocks.
    pub fn set_timestamp(&mut self, timestamp: u64) {
        self.evm.ctx.block.timestamp = U256::from(timestamp);
    }

    /// Moves time forward by `seconds`.
    pub fn advance_time(&mut self, seconds: u64) {
        let now = self.timestamp();
        self.set_timestamp(now + seconds);
    }

    fn account(&mut self, address: Address) -> AccountInfo {
        self.evm
            .ctx
            .journaled_state
            .database
            .load_account(address)
            .map(|a| a.info.clone())
            .unwrap_or_default()
    }

    /// An account's balance in wei.
    pub fn balance(&mut self, address: Address) -> U256 {
        self.account(address).balance
    }

    /// An account's nonce.
    pub fn nonce(&mut self, address: Address) -> u64 {
        self.account(address).nonce
    }

    /// An account's code (for a 7702-delegated EOA, the 23-byte delegation designator).
    pub fn code(&mut self, address: Address) -> Bytes {
        self.account(address).code.map(|c| c.original_bytes()).unwrap_or_default()
    }

    /// Sets an account's balance.
    pub fn set_balance(&mut self, address: Address, balance: U256) {
        let mut info = self.account(address);
        info.balance = balance;
        self.evm.ctx.journaled_state.database.insert_account_info(address, info);
    }

    fn set_code(&mut self, address: Address, code: Bytes) {
        let mut info = self.account(address);
        let bytecode = Bytecode::new_raw(code);
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        self.evm.ctx.journaled_state.database.insert_account_info(address, info);
    }

    fn tx_env(&mut self, tx: &TxRequest) -> Result<TxEnv, ChainError> {
        let nonce = self.nonce(tx.from);
        let mut builder = TxEnv::builder()
            .caller(tx.from)
            .kind(tx.to.map_or(TxKind::Create, TxKind::Call))
            .value(tx.value)
            .data(tx.data.clone())
            .nonce(nonce)
            .chain_id(Some(self.chain_id))
            .gas_limit(tx.gas_limit.unwrap_or(DEFAULT_TX_GAS))
            .max_fee_per_gas(u128::from(BASE_FEE) * 2)
            .gas_priority_fee(Some(u128::from(BASE_FEE)));
        if !tx.authorization_list.is_empty() {
            builder = builder.authorization_list_signed(tx.authorization_list.clone());
        }
        builder.build().map_err(|e| ChainError::Evm(format!("{e:?}")))
    }

    /// Executes a transaction and commits its effects, as a one-transaction block.
    pub fn transact(&mut self, tx: TxRequest) -> Result<Receipt, ChainError> {
        let env = self.tx_env(&tx)?;
        let result = self.evm.transact_commit(env).map_err(|e| ChainError::Evm(e.to_string()))?;
        self.evm.ctx.block.number += U256::from(1);
        Ok(receipt(result))
    }

    /// Runs a call from `from` against the current state without committing anything (like `eth_call` with a
    /// sender); the receipt says whether it reverted and carries the return or revert data.
    pub fn call_from(&mut self, from: Address, to: Address, data: Bytes) -> Result<Receipt, ChainError> {
        let env = self.tx_env(&TxRequest { from, to: Some(to), data, ..Default::default() })?;
        let result = self.evm.transact(env).map_err(|e| ChainError::Evm(e.to_string()))?.result;
        Ok(receipt(result))
    }

    /// Runs a call against the current state without committing anything (like `eth_call`).
    pub fn call(&mut self, to: Address, data: Bytes) -> Result<Bytes, ChainError> {
        let from = self.dev_account(DEV_ACCOUNTS - 1);
        let receipt = self.call_from(from, to, data)?;
        if receipt.success {
            Ok(receipt.output)
        } else {
            Err(ChainError::CallReverted { to, data: alloy::primitives::hex::encode(&receipt.output) })
        }
    }

    /// Calls a typed view function.
    pub fn call_sol<C: SolCall>(&mut self, to: Address, call: &C) -> Result<C::Return, ChainError> {
        let output = self.call(to, call.abi_encode().into())?;
        C::abi_decode_returns(&output).map_err(|e| ChainError::Decode(e.to_string()))
    }

    /// Deploys `init_code` from dev account 0 with `CREATE`.
    pub fn deploy(&mut self, init_code: Bytes) -> Result<Address, ChainError> {
        let from = self.dev_account(0);
        let receipt = self.transact(TxRequest { from, to: None, data: init_code, ..Default::default() })?;
        match receipt.contract_address {
            Some(address) if receipt.success => Ok(address),
            _ => Err(ChainError::DeploymentFailed(alloy::primitives::hex::encode(&receipt.output))),
        }
    }

    /// Deploys `init_code` through the CREATE2 deployer under `salt` and returns its address.
    pub fn create2_deploy(&mut self, salt: B256, init_code: Bytes) -> Result<Address, ChainError> {
        let expected = create2_address(CREATE2_DEPLOYER, salt, &init_code);
        let mut data = salt.to_vec();
        data.extend_from_slice(&init_code);
        let from = self.dev_account(0);
        let receipt = self.transact(TxRequest {
            from,
            to: Some(CREATE2_DEPLOYER),
            data: data.into(),
            ..Default::default()
        })?;
        if !receipt.success || receipt.output.len() != 20 {
            return Err(ChainError::DeploymentFailed(alloy::primitives::hex::encode(&receipt.output)));
        }
        let actual = Address::from_slice(&receipt.output);
        if actual != expected {
            return Err(ChainError::WrongAddress { what: "CREATE2 deployment", expected, actual });
        }
        Ok(actual)
    }

    /// Signs an EIP-7702 authorization for this chain with `signer`'s key.
    pub fn sign_authorization(
        &self,
        signer: &PrivateKeySigner,
        delegate: Address,
        nonce: u64,
    ) -> Result<SignedAuthorization, ChainError> {
        let auth = Authorization { chain_id: U256::from(self.chain_id), address: delegate, nonce };
        let signature =
            signer.sign_hash_sync(&auth.signature_hash()).map_err(|e| ChainError::Signing(e.to_string()))?;
        Ok(auth.into_signed(signature))
    }

    /// The delegate of an EIP-7702-delegated account, if its code is a delegation designator.
    pub fn delegate_of(&mut self, account: Address) -> Option<Address> {
        let code = self.code(account);
        (code.len() == 23 && code[..3] == warrant_core::constants::EIP7702_DELEGATION_PREFIX)
            .then(|| Address::from_slice(&code[3..]))
    }

    /// Plays the bundler: one transaction from dev account 0 calling `EntryPoint.handleOps(ops, beneficiary)`.
    pub fn handle_ops(
        &mut self,
        ops: Vec<PackedUserOperation>,
        beneficiary: Address,
    ) -> Result<HandleOpsOutcome, ChainError> {
        let from = self.dev_account(0);
        let data = IEntryPoint::handleOpsCall { ops, beneficiary }.abi_encode();
        let receipt = self.transact(TxRequest {
            from,
            to: Some(ENTRY_POINT_V08),
            data: data.into(),
            ..Default::default()
        })?;
        let mut user_operation_events = Vec::new();
        let mut revert_reasons = Vec::new();
        for log in receipt.logs.iter().filter(|l| l.address == ENTRY_POINT_V08) {
            if let Ok(event) = IEntryPoint::UserOperationEvent::decode_log(log) {
                user_operation_events.push(event.data);
            } else if let Ok(event) = IEntryPoint::UserOperationRevertReason::decode_log(log) {
                revert_reasons.push(event.data);
            }
        }
        let failure = (!receipt.success)
            .then(|| IEntryPoint::IEntryPointErrors::abi_decode(&receipt.output).ok())
            .flatten();
        Ok(HandleOpsOutcome { receipt, user_operation_events, revert_reasons, failure })
    }

    /// The next nonce of `sender` under `key` at the EntryPoint.
    pub fn entry_point_nonce(
        &mut self,
        sender: Address,
        key: alloy::primitives::Uint<192, 3>,
    ) -> Result<U256, ChainError> {
        self.call_sol(ENTRY_POINT_V08, &IEntryPoint::getNonceCall { sender, key })
    }
}

fn receipt(result: ExecutionResult) -> Receipt {
    let success = result.is_success();
    let gas_used = result.tx_gas_used();
    let contract_address = result.created_address();
    let output = result.output().cloned().unwrap_or_default();
    let logs = result.into_logs();
    Receipt { success, gas_used, logs, output, contract_address }
}
