//! Gas of the same jobs, all on one anvil chain in one run: owner operations of `WarrantAccount`, Warrant
//! session operations, owner operations of eth-infinitism's `Simple7702Account`, and MetaMask Delegation
//! Framework redemptions. Every account is an EIP-7702-delegated EOA.
//!
//! Each figure is the `gasUsed` of one whole transaction: `handleOps` of one operation sent directly to the
//! EntryPoint by a funded dev account (a bundler would send the same transaction), or, for MetaMask, the
//! delegate's own `redeemDelegations` transaction. Every job runs once unmeasured first, so the figure is the
//! steady state (nonce slots, counters and the recipient's balances already non-zero), except the first use
//! of a session, which is a first use by definition (on an account whose nonce key is already in use).

use std::path::Path;

use alloy::{
    network::{TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U128, U256, aliases::U192, keccak256},
    providers::Provider,
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{SolCall, SolEvent, SolValue},
};
use serde_json::{Map, Value, json};
use warrant_chain::{
    artifacts,
    devnet::{Devnet, DevnetConfig, FIRST_FREE_ACCOUNT, WarrantContracts},
};
use warrant_core::{
    IEntryPoint, UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    eip7702::{ChainScope, authorization, sign_authorization},
    grant::{Gate, Grant, IWarrantValidator, Session, gate_kind},
    p256::{P256Kind, P256Signer},
    policy::Call,
    session_op::{
        EIP7702_MARKER, Eip7702Sender, GasFields, SessionOp, execute_calldata, session_nonce_key, sign_grant,
        sign_grant_for,
    },
    token::SignedGrant,
};

use warrant_client::{Node, SessionView, StateReader};

use crate::{BenchError, jobs};

sol! {
    /// ERC-20 (`MockToken` of the Solidity tests).
    interface IToken {
        function mint(address to, uint256 amount) external;
        function balanceOf(address owner) external view returns (uint256);
    }

    /// `MockNft` of the Solidity tests: the session pass.
    interface IPass {
        function mint(address to, uint256 tokenId) external;
    }

    /// ERC-7579 module installation on `WarrantAccount`.
    interface IWarrantAccount {
        function installModule(uint256 moduleTypeId, address module, bytes initData) external;
    }

    /// eth-infinitism's `Simple7702Account` (`BaseAccount`).
    interface ISimple7702Account {
        struct SimpleCall {
            address target;
            uint256 value;
            bytes data;
        }
        function execute(address target, uint256 value, bytes data) external;
        function executeBatch(SimpleCall[] calls) external;
    }

    /// MetaMask Delegation Framework: a caveat (enforcer + terms).
    struct Caveat {
        address enforcer;
        bytes terms;
        bytes args;
    }

    /// MetaMask Delegation Framework: a delegation.
    struct Delegation {
        address delegate;
        address delegator;
        bytes32 authority;
        Caveat[] caveats;
        uint256 salt;
        bytes signature;
    }

    /// MetaMask Delegation Framework: `DelegationManager`.
    interface IDelegationManager {
        function getDelegationHash(Delegation calldata input) external pure returns (bytes32);
        function getDomainHash() external view returns (bytes32);
        function redeemDelegations(bytes[] calldata permissionContexts, bytes32[] calldata modes,
            bytes[] calldata executionCallDatas) external;
    }
}

const ETH: u128 = 1_000_000_000_000_000_000;
const MODULE_TYPE_VALIDATOR: u64 = 1;
/// The Delegation Framework's root authority (`ROOT_AUTHORITY`): a delegation that is not a re-delegation.
const ROOT_AUTHORITY: B256 = B256::repeat_byte(0xff);

/// Gas fields of every user operation (limits do not change the gas a transaction uses).
fn gas_fields() -> GasFields {
    GasFields {
        call_gas_limit: 300_000,
        verification_gas_limit: 600_000,
        pre_verification_gas: 60_000,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        paymaster: None,
    }
}

fn job_error(job: &str, reason: impl std::fmt::Display) -> BenchError {
    BenchError::Job { job: job.into(), reason: reason.to_string() }
}

/// The MetaMask Delegation Framework contracts this benchmark deploys.
#[derive(Clone, Copy, Debug)]
struct MetaMask {
    manager: Address,
    delegator_impl: Address,
    allowed_targets: Address,
    allowed_methods: Address,
    allowed_calldata: Address,
    value_lte: Address,
    timestamp: Address,
    limited_calls: Address,
    erc20_period: Address,
    native_amount: Address,
}

struct Bench {
    net: Devnet,
    /// The node, read through the client library (the same reads every caller makes).
    node: Node,
    chain_id: u64,
    warrant: WarrantContracts,
    simple7702: Address,
    metamask: MetaMask,
    token: Address,
    recipients: [Address; 1],
    relayer: Address,
    figures: Map<String, Value>,
}

/// Reads the creation code from `<dir>/<name>.mjs` (`const bytecode = "0x…"`) of `@metamask/delegation-abis`.
fn metamask_bytecode(dir: &Path, name: &str) -> Result<Bytes, BenchError> {
    let path = dir.join(format!("{name}.mjs"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| BenchError::File { path: path.clone(), reason: e.to_string() })?;
    let start = text.find("\"0x").ok_or_else(|| BenchError::File {
        path: path.clone(),
        reason: "no \"0x…\" bytecode string".into(),
    })?;
    let rest = &text[start + 1..];
    let end = rest.find('"').ok_or_else(|| BenchError::File {
        path: path.clone(),
        reason: "unterminated bytecode string".into(),
    })?;
    let code: Bytes = rest[..end]
        .parse()
        .map_err(|e| BenchError::File { path: path.clone(), reason: format!("bytecode is not hex: {e}") })?;
    if code.is_empty() {
        return Err(BenchError::File { path, reason: "empty bytecode".into() });
    }
    Ok(code)
}

impl Bench {
    async fn start(metamask_dir: &Path) -> Result<Self, BenchError> {
        let net = Devnet::start(DevnetConfig::default()).await?;
        let chain_id = net.chain_id();
        let warrant = net.deploy_warrant().await?;
        let simple7702 = net.deploy(artifacts::simple_7702_account_creation_code()?).await?;
        let token = net.deploy(artifacts::warrant_creation_code("Mocks.sol", "MockToken")?).await?;

        let deployer = net.signer(0).address();
        let deploy_mm = async |name: &str, args: Vec<u8>| -> Result<Address, BenchError> {
            let mut code = metamask_bytecode(metamask_dir, name)?.to_vec();
            code.extend_from_slice(&args);
            Ok(net.deploy(code.into()).await?)
        };
        let manager = deploy_mm("DelegationManager", deployer.abi_encode()).await?;
        let metamask = MetaMask {
            manager,
            delegator_impl: deploy_mm(
                "EIP7702StatelessDeleGator",
                (manager, ENTRY_POINT_V08).abi_encode_params(),
            )
            .await?,
            allowed_targets: deploy_mm("AllowedTargetsEnforcer", vec![]).await?,
            allowed_methods: deploy_mm("AllowedMethodsEnforcer", vec![]).await?,
            allowed_calldata: deploy_mm("AllowedCalldataEnforcer", vec![]).await?,
            value_lte: deploy_mm("ValueLteEnforcer", vec![]).await?,
            timestamp: deploy_mm("TimestampEnforcer", vec![]).await?,
            limited_calls: deploy_mm("LimitedCallsEnforcer", vec![]).await?,
            erc20_period: deploy_mm("ERC20PeriodTransferEnforcer", vec![]).await?,
            native_amount: deploy_mm("NativeTokenTransferAmountEnforcer", vec![]).await?,
        };

        let recipients = [1u8].map(|i| Address::from_word(keccak256([b'r', i])));
        let relayer = net.signer(FIRST_FREE_ACCOUNT).address();
        let node = Node::connect(net.rpc_url().clone(), warrant_chain::bundler::DEFAULT_RPC_TIMEOUT).await?;
        let bench = Self {
            net,
            node,
            chain_id,
            warrant,
            simple7702,
            metamask,
            token,
            recipients,
            relayer,
            figures: Map::new(),
        };
        // Every recipient already holds tokens and ether: each transfer writes a non-zero balance.
        for r in recipients {
            bench.mint(r, 1).await?;
            bench.net.set_balance(r, U256::from(1)).await?;
        }
        Ok(bench)
    }

    async fn mint(&self, to: Address, amount: u128) -> Result<(), BenchError> {
        let data = IToken::mintCall { to, amount: U256::from(amount) }.abi_encode();
        self.net.send(TransactionRequest::default().with_to(self.token).with_input(data)).await?;
        Ok(())
    }

    async fn call<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, BenchError> {
        Ok(self.node.view(to, call).await?)
    }

    /// A funded EOA delegated to `delegate` by a type-4 transaction of the relayer, holding tokens.
    async fn delegated_eoa(&self, seed: &str, delegate: Address) -> Result<PrivateKeySigner, BenchError> {
        let key = PrivateKeySigner::from_bytes(&keccak256(seed))
            .map_err(|e| BenchError::InvalidKey(e.to_string()))?;
        let auth =
            sign_authorization(&key, authorization(self.chain_id, delegate, 0, ChainScope::ThisChainOnly)?)?;
        let tx = TransactionRequest::default()
            .with_from(self.relayer)
            .with_to(self.relayer)
            .with_authorization_list(vec![auth]);
        self.net.send(tx).await?;
        let code = self.net.provider().get_code_at(key.address()).await.map_err(|e| job_error(seed, e))?;
        if code.as_ref() != warrant_core::eip7702::delegation_designator(delegate).as_slice() {
            return Err(job_error(seed, format!("not delegated to {delegate}")));
        }
        self.net.set_balance(key.address(), U256::from(100 * ETH)).await?;
        self.mint(key.address(), 1_000_000_000).await?;
        Ok(key)
    }

    async fn nonce(&self, sender: Address, key: U192) -> Result<U256, BenchError> {
        Ok(self.node.clone().entry_point_nonce(sender, key).await?)
    }

    /// `handleOps([op])` from the relayer; the transaction's gas, after checking the operation succeeded.
    async fn handle_op(&self, job: &str, op: &UserOperation) -> Result<u64, BenchError> {
        let data =
            IEntryPoint::handleOpsCall { ops: vec![op.pack()], beneficiary: self.relayer }.abi_encode();
        let tx = TransactionRequest::default()
            .with_from(self.relayer)
            .with_to(ENTRY_POINT_V08)
            .with_input(data)
            .with_gas_limit(2_000_000);
        // Simulated first, so a refusal comes back with the EntryPoint's reason rather than a bare revert.
        if let Err(e) = self.net.provider().call(tx.clone()).await {
            let reason = e
                .as_error_resp()
                .and_then(|p| p.as_revert_data())
                .and_then(|d| warrant_core::revert::describe_entry_point_error(&d))
                .unwrap_or_else(|| e.to_string());
            return Err(job_error(job, reason));
        }
        let receipt = self.net.send(tx).await.map_err(|e| job_error(job, e))?;
        let success = receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == ENTRY_POINT_V08)
            .find_map(|l| IEntryPoint::UserOperationEvent::decode_log(&l.inner).ok())
            .map(|e| e.data.success);
        match success {
            Some(true) => Ok(receipt.gas_used),
            Some(false) => Err(job_error(job, "the operation's execution reverted")),
            None => Err(job_error(job, "no UserOperationEvent")),
        }
    }

    /// An owner-signed operation of a 7702 account delegated to `delegate` (nonce key 0, raw ECDSA signature).
    async fn owner_op(
        &self,
        owner: &PrivateKeySigner,
        delegate: Address,
        call_data: Bytes,
    ) -> Result<UserOperation, BenchError> {
        let sender = owner.address();
        let g = gas_fields();
        let mut op = UserOperation {
            sender,
            nonce: self.nonce(sender, U192::ZERO).await?,
            factory: Some(EIP7702_MARKER),
            call_data,
            call_gas_limit: U128::from(g.call_gas_limit),
            verification_gas_limit: U128::from(g.verification_gas_limit),
            pre_verification_gas: U256::from(g.pre_verification_gas),
            max_fee_per_gas: U128::from(g.max_fee_per_gas),
            max_priority_fee_per_gas: U128::from(g.max_priority_fee_per_gas),
            ..Default::default()
        };
        let hash = op.hash(ENTRY_POINT_V08, self.chain_id, Some(delegate))?;
        op.signature = owner.sign_hash_sync(&hash)?.as_bytes().to_vec().into();
        Ok(op)
    }

    /// Runs `make` twice (the first unmeasured) and records the second transaction's gas under `key`.
    async fn steady<F>(&mut self, key: &str, mut make: F) -> Result<u64, BenchError>
    where
        F: AsyncFnMut(&Self) -> Result<UserOperation, BenchError>,
    {
        let op = make(self).await?;
        self.handle_op(key, &op).await?;
        let op = make(self).await?;
        let gas = self.handle_op(key, &op).await?;
        self.record(key, gas);
        Ok(gas)
    }

    fn record(&mut self, key: &str, gas: u64) {
        println!("{key:<44} {gas:>9} gas");
        self.figures.insert(key.into(), json!(gas));
    }

    fn erc20(&self) -> Call {
        jobs::erc20_transfer(self.token, self.recipients[0], jobs::TOKEN_AMOUNT)
    }

    fn native(&self) -> Call {
        jobs::native_transfer(self.recipients[0], jobs::NATIVE_AMOUNT)
    }

    /// Three calls in one batch: ERC-20 transfers to the recipient.
    fn batch3(&self) -> Vec<Call> {
        vec![self.erc20(); 3]
    }

    async fn warrant_jobs(&mut self) -> Result<(), BenchError> {
        let implementation = self.warrant.implementation;
        let validator = self.warrant.validator;
        let owner = self.delegated_eoa("warrant bench: WarrantAccount owner", implementation).await?;
        let account = owner.address();
        let install = IWarrantAccount::installModuleCall {
            moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
            module: validator,
            initData: Bytes::new(),
        }
        .abi_encode();
        let op = self.owner_op(&owner, implementation, install.into()).await?;
        self.handle_op("installModule(WarrantValidator)", &op).await?;

        // Owner path.
        for (key, calls) in [
            ("owner_erc20_transfer", vec![self.erc20()]),
            ("owner_native_transfer", vec![self.native()]),
            ("owner_batch3", self.batch3()),
        ] {
            let data = execute_calldata(&calls)?;
            self.steady(key, async |b: &Self| b.owner_op(&owner, implementation, data.clone()).await).await?;
        }

        // Sessions: one scope covers every job (ERC-20 and native transfers to the recipient).
        let session_key = PrivateKeySigner::from_bytes(&keccak256("warrant bench: session key"))
            .map_err(|e| BenchError::InvalidKey(e.to_string()))?;
        let now = self.node.now().await?;
        let (token, recipients) = (self.token, self.recipients);
        let session = |salt: &str| {
            jobs::session(session_key.address(), keccak256(salt), token, recipients[0], now + 30 * 24 * 3600)
        };
        let full = session("full session");
        let minimal = jobs::minimal_erc20_session(
            session_key.address(),
            keccak256("minimal session"),
            token,
            now + 30 * 24 * 3600,
        );
        for s in [&minimal, &full] {
            let grant = self.signed_grant(&owner, s).await?;
            let enable =
                self.session_op(account, vec![self.erc20()]).await?.sign_enable(&grant, &session_key)?;
            self.handle_op("session ENABLE (unmeasured)", &enable.op).await?;
        }

        for (key, session, calls) in [
            ("session_erc20_transfer", &minimal, vec![self.erc20()]),
            ("session_erc20_transfer_full_scope", &full, vec![self.erc20()]),
            ("session_native_transfer", &full, vec![self.native()]),
            ("session_batch3", &full, self.batch3()),
        ] {
            let key_ref = &session_key;
            self.steady(key, async |b: &Self| {
                Ok(b.session_op(account, calls.clone()).await?.sign_use(session, key_ref)?.op)
            })
            .await?;
        }

        // The gas goal's job with a P-256 session key (raw, and WebCrypto as a page signs), verified by the
        // P256VERIFY precompile (anvil runs Osaka): enabled first (unmeasured), then the steady USE operation.
        for (key_name, kind) in [
            ("session_p256_raw_erc20_transfer", P256Kind::Raw),
            ("session_p256_webcrypto_erc20_transfer", P256Kind::WebCrypto),
        ] {
            let p256 = P256Signer::from_bytes(kind, &keccak256(format!("warrant bench: {key_name}")).0)?;
            let s =
                jobs::minimal_erc20_session(p256.signer(), keccak256(key_name), token, now + 30 * 24 * 3600);
            let grant = self.signed_grant(&owner, &s).await?;
            let enable =
                self.session_op(account, vec![self.erc20()]).await?.sign_enable_p256(&grant, &p256)?;
            self.handle_op("P-256 session ENABLE (unmeasured)", &enable.op).await?;
            let (s_ref, p256_ref) = (&s, &p256);
            self.steady(key_name, async |b: &Self| {
                Ok(b.session_op(account, vec![b.erc20()]).await?.sign_use_p256(s_ref, p256_ref)?.op)
            })
            .await?;
        }

        // First use of a fresh session: the operation carries the owner's grant (ENABLE).
        let fresh = session("fresh session");
        let grant = self.signed_grant(&owner, &fresh).await?;
        let op = self.session_op(account, vec![self.erc20()]).await?.sign_enable(&grant, &session_key)?;
        let gas = self.handle_op("session_enable_first_use", &op.op).await?;
        self.record("session_enable_first_use", gas);

        // The full-scope ERC-20 job gated on an ERC-721 session pass the account holds: the difference from
        // the full-scope figure is the price of one gate (a cold call to the token and its cold balance read).
        let pass = self.net.deploy(artifacts::warrant_creation_code("Mocks.sol", "MockNft")?).await?;
        let mint = IPass::mintCall { to: account, tokenId: U256::from(1) }.abi_encode();
        self.net.send(TransactionRequest::default().with_to(pass).with_input(mint)).await?;
        let mut gated = session("pass-gated session");
        gated.scope.gates = vec![Gate {
            token: pass,
            kind: gate_kind::ERC721,
            tokenId: U256::ZERO,
            minBalance: U256::from(1),
        }];
        let grant = self.signed_grant(&owner, &gated).await?;
        let op = self.session_op(account, vec![self.erc20()]).await?.sign_enable(&grant, &session_key)?;
        self.handle_op("pass-gated session ENABLE (unmeasured)", &op.op).await?;
        let (gated_ref, key_ref) = (&gated, &session_key);
        let gated_gas = self
            .steady("session_erc20_transfer_gated_erc721", async |b: &Self| {
                Ok(b.session_op(account, vec![b.erc20()]).await?.sign_use(gated_ref, key_ref)?.op)
            })
            .await?;
        let full_gas = self.figures["session_erc20_transfer_full_scope"].as_u64().unwrap_or_default();
        let one_gate = gated_gas as i64 - full_gas as i64;
        println!("{:<44} {one_gate:>9} gas", "one ERC-721 gate (gated - full scope)");
        self.figures.insert("session_one_gate_erc721_overhead".into(), json!(one_gate));

        // The same ERC-20 job under a periodic spend limit (enabled first, unmeasured); each operation names
        // the current period in its nonce key.
        let spend = jobs::spend_limited_session(
            session_key.address(),
            keccak256("spend-limited session"),
            token,
            recipients[0],
            now + 30 * 24 * 3600,
            now - 60,
        );
        // The period as every caller of the client decides it.
        let mut node = self.node.clone();
        let period = SessionView::read(&mut node, self.warrant.validator, account, &spend).await?.period();
        let grant = self.signed_grant(&owner, &spend).await?;
        let op = self
            .session_op_in(account, vec![self.erc20()], period)
            .await?
            .sign_enable(&grant, &session_key)?;
        self.handle_op("spend-limited session ENABLE (unmeasured)", &op.op).await?;
        let (spend_ref, key_ref) = (&spend, &session_key);
        self.steady("session_erc20_transfer_spend_limited", async |b: &Self| {
            Ok(b.session_op_in(account, vec![b.erc20()], period).await?.sign_use(spend_ref, key_ref)?.op)
        })
        .await?;
        Ok(())
    }

    async fn signed_grant(
        &self,
        owner: &PrivateKeySigner,
        session: &Session,
    ) -> Result<SignedGrant, BenchError> {
        let account = owner.address();
        let epoch = self.call(self.warrant.validator, IWarrantValidator::epochOfCall { account }).await?;
        let grant = Grant { account, epoch: epoch.to(), session: session.clone() };
        Ok(sign_grant(grant, self.warrant.validator, self.chain_id, owner)?)
    }

    /// The builder's operation for the account's next nonce under the validator's key.
    async fn session_op(&self, account: Address, calls: Vec<Call>) -> Result<SessionOp, BenchError> {
        self.session_op_in(account, calls, 0).await
    }

    /// The same naming period `period` (a spend-limited session's; signed in the module signature).
    async fn session_op_in(
        &self,
        account: Address,
        calls: Vec<Call>,
        period: u32,
    ) -> Result<SessionOp, BenchError> {
        let nonce = self.nonce(account, session_nonce_key(self.warrant.validator, 0)).await?;
        Ok(SessionOp {
            account,
            module: self.warrant.validator,
            chain_id: self.chain_id,
            account_kind: AccountKind::WarrantAccount,
            calls,
            gas: gas_fields(),
            key_suffix: 0,
            period,
            // The low 64 bits are the sequence; the key is above them.
            sequence: (nonce & U256::from(u64::MAX)).to::<u64>(),
            eip7702: Some(Eip7702Sender { delegate: self.warrant.implementation, authorization: None }),
        })
    }

    /// Owner and session ERC-20 transfers on Nexus 1.0.0 and Kernel v3.1 (published bytecode), each with
    /// WarrantValidator installed and its owner in Warrant's `OwnerValidator`; the session's scope is the gas
    /// goal's (token, `transfer`, amount cap, valid until), as in `session_erc20_transfer`.
    async fn foreign_jobs(&mut self) -> Result<(), BenchError> {
        let foreign = self.net.deploy_foreign_accounts().await?;
        let validator = self.warrant.validator;
        let session_key = PrivateKeySigner::from_bytes(&keccak256("warrant bench: session key"))
            .map_err(|e| BenchError::InvalidKey(e.to_string()))?;
        for kind in [AccountKind::Nexus, AccountKind::Kernel] {
            let owner = PrivateKeySigner::from_bytes(&keccak256(format!("warrant bench: {kind} owner")))
                .map_err(|e| BenchError::InvalidKey(e.to_string()))?;
            let account =
                self.net.create_foreign_account(kind, &foreign, owner.address(), B256::ZERO).await?;
            self.net.set_balance(account, U256::from(10u128.pow(20))).await?;
            self.mint(account, 1_000_000 * jobs::TOKEN_AMOUNT).await?;
            let owner_key = kind.adapter().owner_nonce_key(Some(foreign.owner_validator))?;
            let install = kind.install_validator(validator, &[]);
            let op = self.account_owner_op(&owner, account, owner_key, install).await?;
            self.handle_op(&format!("{kind}: installModule(WarrantValidator)"), &op).await?;

            let data = execute_calldata(&[self.erc20()])?;
            let owner_ref = &owner;
            self.steady(&format!("{kind}_owner_erc20_transfer"), async |b: &Self| {
                b.account_owner_op(owner_ref, account, owner_key, data.clone()).await
            })
            .await?;

            let now = self.node.now().await?;
            let session = jobs::minimal_erc20_session(
                session_key.address(),
                keccak256(format!("{kind} minimal session")),
                self.token,
                now + 30 * 24 * 3600,
            );
            let epoch = self.call(validator, IWarrantValidator::epochOfCall { account }).await?;
            let grant = Grant { account, epoch: epoch.to(), session: session.clone() };
            let grant =
                sign_grant_for(kind, Some(foreign.owner_validator), grant, validator, self.chain_id, &owner)?;
            let enable = self
                .foreign_session_op(kind, account, vec![self.erc20()])
                .await?
                .sign_enable(&grant, &session_key)?;
            self.handle_op(&format!("{kind}: session ENABLE (unmeasured)"), &enable.op).await?;
            let (session_ref, key_ref) = (&session, &session_key);
            self.steady(&format!("{kind}_session_erc20_transfer"), async |b: &Self| {
                Ok(b.foreign_session_op(kind, account, vec![b.erc20()])
                    .await?
                    .sign_use(session_ref, key_ref)?
                    .op)
            })
            .await?;
        }
        Ok(())
    }

    /// An owner-signed operation of a smart account under nonce key `key` (the owner's raw ECDSA signature, which
    /// `OwnerValidator` checks).
    async fn account_owner_op(
        &self,
        owner: &PrivateKeySigner,
        account: Address,
        key: U192,
        call_data: Bytes,
    ) -> Result<UserOperation, BenchError> {
        let g = gas_fields();
        let mut op = UserOperation {
            sender: account,
            nonce: self.nonce(account, key).await?,
            call_data,
            call_gas_limit: U128::from(g.call_gas_limit),
            verification_gas_limit: U128::from(g.verification_gas_limit),
            pre_verification_gas: U256::from(g.pre_verification_gas),
            max_fee_per_gas: U128::from(g.max_fee_per_gas),
            max_priority_fee_per_gas: U128::from(g.max_priority_fee_per_gas),
            ..Default::default()
        };
        let hash = op.hash(ENTRY_POINT_V08, self.chain_id, None)?;
        op.signature = owner.sign_hash_sync(&hash)?.as_bytes().to_vec().into();
        Ok(op)
    }

    /// The builder's session operation for a `kind` account (its nonce layout, no 7702 marker).
    async fn foreign_session_op(
        &self,
        kind: AccountKind,
        account: Address,
        calls: Vec<Call>,
    ) -> Result<SessionOp, BenchError> {
        let nonce = self.nonce(account, kind.nonce_key(self.warrant.validator, 0)?).await?;
        Ok(SessionOp {
            account,
            module: self.warrant.validator,
            chain_id: self.chain_id,
            account_kind: kind,
            calls,
            gas: gas_fields(),
            key_suffix: 0,
            period: 0,
            sequence: (nonce & U256::from(u64::MAX)).to::<u64>(),
            eip7702: None,
        })
    }

    async fn simple7702_jobs(&mut self) -> Result<(), BenchError> {
        let delegate = self.simple7702;
        let owner = self.delegated_eoa("warrant bench: Simple7702Account owner", delegate).await?;
        let single = |c: &Call| -> Bytes {
            ISimple7702Account::executeCall { target: c.target, value: c.value, data: c.data.clone().into() }
                .abi_encode()
                .into()
        };
        let batch = ISimple7702Account::executeBatchCall {
            calls: self
                .batch3()
                .into_iter()
                .map(|c| ISimple7702Account::SimpleCall {
                    target: c.target,
                    value: c.value,
                    data: c.data.into(),
                })
                .collect(),
        }
        .abi_encode()
        .into();
        for (key, data) in [
            ("simple7702_erc20_transfer", single(&self.erc20())),
            ("simple7702_native_transfer", single(&self.native())),
            ("simple7702_batch3", batch),
        ] {
            self.steady(key, async |b: &Self| b.owner_op(&owner, delegate, data.clone()).await).await?;
        }
        Ok(())
    }

    /// Signs `delegation` as its 7702 delegator (the stateless DeleGator checks ECDSA over the EIP-712 hash).
    async fn sign_delegation(
        &self,
        delegator: &PrivateKeySigner,
        mut delegation: Delegation,
    ) -> Result<Delegation, BenchError> {
        let manager = self.metamask.manager;
        let domain = self.call(manager, IDelegationManager::getDomainHashCall {}).await?;
        let struct_hash = self
            .call(manager, IDelegationManager::getDelegationHashCall { input: delegation.clone() })
            .await?;
        let digest = keccak256([&[0x19, 0x01][..], domain.as_slice(), struct_hash.as_slice()].concat());
        delegation.signature = delegator.sign_hash_sync(&digest)?.as_bytes().to_vec().into();
        Ok(delegation)
    }

    /// The delegate's `redeemDelegations` transaction for one single-mode call; its gas.
    async fn redeem(
        &self,
        job: &str,
        delegate: Address,
        delegation: &Delegation,
        call: &Call,
    ) -> Result<u64, BenchError> {
        let context: Bytes = vec![delegation.clone()].abi_encode().into();
        let mut execution = call.target.to_vec();
        execution.extend_from_slice(&call.value.to_be_bytes::<32>());
        execution.extend_from_slice(&call.data);
        let data = IDelegationManager::redeemDelegationsCall {
            permissionContexts: vec![context],
            modes: vec![B256::ZERO],
            executionCallDatas: vec![execution.into()],
        }
        .abi_encode();
        let tx = TransactionRequest::default()
            .with_from(delegate)
            .with_to(self.metamask.manager)
            .with_input(data)
            .with_gas_limit(1_000_000);
        let receipt: TransactionReceipt = self.net.send(tx).await.map_err(|e| job_error(job, e))?;
        Ok(receipt.gas_used)
    }

    async fn metamask_jobs(&mut self) -> Result<(), BenchError> {
        let mm = self.metamask;
        let delegator = self.delegated_eoa("warrant bench: MetaMask delegator", mm.delegator_impl).await?;
        let delegate = self.net.signer(FIRST_FREE_ACCOUNT + 1).address();
        let now = self.node.now().await?;
        let until = now + 30 * 24 * 3600;
        let caveat =
            |enforcer: Address, terms: Vec<u8>| Caveat { enforcer, terms: terms.into(), args: Bytes::new() };
        let word = |v: u128| U256::from(v).to_be_bytes::<32>().to_vec();
        // Warrant's time window and use count, in the framework's enforcers.
        let window = {
            let mut t = 0u128.to_be_bytes().to_vec();
            t.extend_from_slice(&u128::from(until).to_be_bytes());
            caveat(mm.timestamp, t)
        };
        let uses = caveat(mm.limited_calls, word(1_000));
        let recipient_is = |r: Address| {
            let mut t = word(4);
            t.extend_from_slice(r.into_word().as_slice());
            caveat(mm.allowed_calldata, t)
        };
        let transfer_selector = jobs::transferCall::SELECTOR.to_vec();

        // ERC-20, the goal's scope: token + transfer + window. The framework has no per-call bound on an
        // argument (Warrant's `amount <= cap`), so that rule is not in the delegation.
        let erc20_minimal = vec![
            caveat(mm.allowed_targets, self.token.to_vec()),
            caveat(mm.allowed_methods, transfer_selector.clone()),
            window.clone(),
        ];
        // ERC-20, the full scope: token + transfer + recipient + no ether + window + uses.
        let erc20_caveats = vec![
            caveat(mm.allowed_targets, self.token.to_vec()),
            caveat(mm.allowed_methods, transfer_selector.clone()),
            recipient_is(self.recipients[0]),
            caveat(mm.value_lte, word(0)),
            window.clone(),
            uses.clone(),
        ];
        // ERC-20 with a periodic allowance: the period enforcer pins token and `transfer` itself.
        let mut period_terms = self.token.to_vec();
        period_terms.extend(word(100 * jobs::TOKEN_CAP));
        period_terms.extend(word(u128::from(jobs::PERIOD)));
        period_terms.extend(word(u128::from(now)));
        let spend_caveats = vec![
            caveat(mm.erc20_period, period_terms),
            recipient_is(self.recipients[0]),
            caveat(mm.value_lte, word(0)),
            window.clone(),
            uses.clone(),
        ];
        // Native: recipient + per-call value cap + total cap + window + uses.
        let native_caveats = vec![
            caveat(mm.allowed_targets, self.recipients[0].to_vec()),
            caveat(mm.value_lte, word(jobs::NATIVE_CAP)),
            caveat(mm.native_amount, word(100 * jobs::NATIVE_CAP)),
            window,
            uses,
        ];
        for (i, (key, caveats, call)) in [
            ("metamask_erc20_transfer", erc20_minimal, self.erc20()),
            ("metamask_erc20_transfer_full_scope", erc20_caveats, self.erc20()),
            ("metamask_erc20_transfer_spend_limited", spend_caveats, self.erc20()),
            ("metamask_native_transfer", native_caveats, self.native()),
        ]
        .into_iter()
        .enumerate()
        {
            let delegation = Delegation {
                delegate,
                delegator: delegator.address(),
                authority: ROOT_AUTHORITY,
                caveats,
                salt: U256::from(i),
                signature: Bytes::new(),
            };
            let delegation = self.sign_delegation(&delegator, delegation).await?;
            self.redeem(key, delegate, &delegation, &call).await?;
            let gas = self.redeem(key, delegate, &delegation, &call).await?;
            self.record(key, gas);
        }
        Ok(())
    }

    /// Checks the recipients received what the jobs sent (a job that silently did nothing would be cheap).
    async fn check_transfers(&self, expected_tokens: u128) -> Result<(), BenchError> {
        let got = self.call(self.token, IToken::balanceOfCall { owner: self.recipients[0] }).await?;
        if got != U256::from(expected_tokens) {
            return Err(job_error(
                "token balances",
                format!("recipient holds {got}, expected {expected_tokens}"),
            ));
        }
        Ok(())
    }
}

/// Runs every job on a fresh anvil; the figures as JSON (`gas` keys of `results.json`).
pub async fn run(metamask_bytecode_dir: &Path) -> Result<Value, BenchError> {
    let mut bench = Bench::start(metamask_bytecode_dir).await?;
    bench.warrant_jobs().await?;
    bench.foreign_jobs().await?;
    bench.simple7702_jobs().await?;
    bench.metamask_jobs().await?;
    // 1 pre-minted, then for owner, session and Simple7702 an ERC-20 job and a batch of 3, each run twice
    // (3 × 8), the session's full-scope ERC-20 job (2), the ENABLE warm-ups and the first use (3), the
    // pass-gated session's ENABLE and two USE operations (3), the spend-limited session's ENABLE and two USE
    // operations (3), the two P-256 sessions' ENABLE and two USE operations (2 × 3), MetaMask's three ERC-20 jobs
    // run twice (6), and on Nexus and Kernel the owner's job twice, the session's ENABLE and its job twice (2 × 5).
    bench.check_transfers(1 + (24 + 2 + 3 + 3 + 3 + 6 + 6 + 10) * jobs::TOKEN_AMOUNT).await?;
    Ok(Value::Object(bench.figures))
}
