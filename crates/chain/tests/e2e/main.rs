//! End to end against real processes: anvil (Osaka) and Pimlico's Alto bundler in safe mode (ERC-7562 tracing of
//! every operation), through [`BundlerClient`]. Each test starts its own network and stops it when it ends, passes
//! or fails. See `docs/e2e.md` for what each step proves.
//!
//! Run with `cargo test -p warrant-chain --test e2e -- --nocapture` (a step of `scripts/test`). A machine without
//! anvil, node or Alto fails here with the missing tool named; it never skips.

mod accounts;

use std::time::Duration;

use alloy::{
    eips::eip7702::SignedAuthorization,
    network::{TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U128, U256, aliases::U192},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
};
use warrant_chain::{
    ChainError, artifacts,
    bundler::{BundlerClient, BundlerErrorKind, BundlerRpcError, EIP7702_FACTORY, UserOperationReceipt},
    devnet::{Devnet, DevnetConfig, FIRST_FREE_ACCOUNT, WarrantContracts, check_tools},
    gate::{probe_gates, read_holdings},
};
use warrant_core::{
    IEntryPoint, UserOperation,
    constants::ENTRY_POINT_V08,
    eip7702::{
        ChainScope, authorization, check_delegate_code, delegation_designator, reset_authorization,
        reset_nonce, sign_authorization,
    },
    gate::GateProbeError,
    grant::{
        CallPolicy, Gate, Grant, IWarrantValidator, Scope, Session, WarrantErrors, enable_digest,
        enable_signature, gate_kind, use_digest, use_signature,
    },
    p256::{P256Kind, P256Signer, estimation_signature},
    policy::{
        Denial, OpCheck, Presentation, SessionStatus, SessionUsage, check_operation, check_time, max_gas_cost,
    },
    user_op::validator_nonce,
};

sol! {
    /// The parts of `WarrantAccount` (ERC-7579) the tests call.
    interface IAccount {
        function installModule(uint256 moduleTypeId, address module, bytes initData) external;
        function isModuleInstalled(uint256 moduleTypeId, address module, bytes additionalContext)
            external view returns (bool);
        function execute(bytes32 mode, bytes executionCalldata) external;
    }

    /// `WarrantAccountFactory`.
    interface IFactory {
        function createAccount(address owner, bytes32 salt) external returns (address);
        function getAddress(address owner, bytes32 salt) external view returns (address);
    }

    /// `MockToken` and `MockNft` (`contracts/test/mocks/Mocks.sol`): the same `mint(to, amount|id)`.
    interface IMintable {
        function mint(address to, uint256 amountOrId) external;
        function transferFrom(address from, address to, uint256 id) external;
        function safeTransferFrom(address from, address to, uint256 id) external;
    }

    /// `MockMultiToken`.
    interface IMultiMintable {
        function mint(address to, uint256 id, uint256 amount) external;
    }
}

const ETH: u128 = 1_000_000_000_000_000_000;
const MODULE_TYPE_VALIDATOR: u64 = 1;
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Multiplier on the estimated verificationGasLimit (see `Harness::prepare`).
const VERIFICATION_HEADROOM: u64 = 3;

/// Who signs an operation's hash, and how the signature is wrapped.
enum Signer<'a> {
    /// The account's owner (a raw 65-byte ECDSA signature).
    Owner(&'a PrivateKeySigner),
    /// A session key presenting an enabled session (USE mode).
    Use(&'a PrivateKeySigner, &'a Session),
    /// A session key whose operation carries the owner's grant (ENABLE mode).
    Enable(&'a PrivateKeySigner, &'a Grant, &'a Bytes),
    /// A P-256 session key (USE mode).
    UseP256(&'a P256Signer, &'a Session),
    /// A P-256 session key presenting the owner's grant (ENABLE mode).
    EnableP256(&'a P256Signer, &'a Grant, &'a Bytes),
    /// The estimation signature of a P-256 key of this kind (`p256::estimation_signature`), USE or ENABLE.
    EstimateP256(P256Kind, &'a Session, Option<(&'a Grant, &'a Bytes)>),
}

impl Signer<'_> {
    /// The module signature for `hash`: the session key signs the session digest (the op's hash, the session id
    /// and the period, 0 here: these sessions have none), not the bare hash.
    fn sign(&self, hash: B256, account: Address, module: Address, chain_id: u64) -> Bytes {
        let raw = |key: &PrivateKeySigner, digest: B256| {
            key.sign_hash_sync(&digest).expect("signs").as_bytes().to_vec()
        };
        match self {
            Self::Owner(key) => raw(key, hash).into(),
            Self::Use(key, session) => {
                use_signature(session, 0, &raw(key, use_digest(hash, session.id(account), 0)))
            }
            Self::Enable(key, grant, owner_signature) => {
                let digest =
                    enable_digest(hash, grant.session.id(account), 0, grant.digest(module, chain_id));
                enable_signature(grant, 0, owner_signature, &raw(key, digest))
            }
            Self::UseP256(key, session) => {
                let sig = key.sign_digest(use_digest(hash, session.id(account), 0)).expect("signs");
                use_signature(session, 0, &sig)
            }
            Self::EnableP256(key, grant, owner_signature) => {
                let digest =
                    enable_digest(hash, grant.session.id(account), 0, grant.digest(module, chain_id));
                enable_signature(grant, 0, owner_signature, &key.sign_digest(digest).expect("signs"))
            }
            Self::EstimateP256(kind, session, None) => {
                let digest = use_digest(hash, session.id(account), 0);
                use_signature(session, 0, &estimation_signature(*kind, digest).expect("signs"))
            }
            Self::EstimateP256(kind, session, Some((grant, owner_signature))) => {
                let digest = enable_digest(hash, session.id(account), 0, grant.digest(module, chain_id));
                enable_signature(
                    grant,
                    0,
                    owner_signature,
                    &estimation_signature(*kind, digest).expect("signs"),
                )
            }
        }
    }
}

struct Harness {
    net: Devnet,
    bundler: BundlerClient,
    contracts: WarrantContracts,
    chain_id: u64,
}

impl Harness {
    async fn start() -> Self {
        if let Err(e) = check_tools() {
            panic!("the end-to-end tests need anvil, node and Alto: {e}");
        }
        let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
        let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
        let bundler = net.bundler();
        assert_eq!(bundler.supported_entry_points().await.unwrap(), vec![ENTRY_POINT_V08]);
        assert_eq!(bundler.chain_id().await.unwrap(), net.chain_id());
        let chain_id = net.chain_id();
        Self { net, bundler, contracts, chain_id }
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.net.provider().call(tx).await.unwrap_or_else(|e| panic!("eth_call to {to}: {e}"));
        C::abi_decode_returns(&out).expect("decodes")
    }

    async fn code(&self, account: Address) -> Bytes {
        self.net.provider().get_code_at(account).await.unwrap()
    }

    async fn balance(&self, account: Address) -> U256 {
        self.net.provider().get_balance(account).await.unwrap()
    }

    async fn eoa_nonce(&self, account: Address) -> u64 {
        self.net.provider().get_transaction_count(account).await.unwrap()
    }

    async fn now(&self) -> u64 {
        let block = self.net.provider().get_block_by_number(Default::default()).await.unwrap().unwrap();
        block.header.timestamp
    }

    async fn entry_point_nonce(&self, sender: Address, key: U192) -> U256 {
        self.view(ENTRY_POINT_V08, IEntryPoint::getNonceCall { sender, key }).await
    }

    async fn usage(&self, account: Address, id: B256) -> SessionUsage {
        let state =
            self.view(self.contracts.validator, IWarrantValidator::sessionStateCall { account, id }).await;
        SessionUsage {
            status: SessionStatus::from_u8(state.status).expect("known status"),
            uses: state.uses,
            value_spent: state.valueSpent,
            // The sessions here have no period and no spend limits.
            ..Default::default()
        }
    }

    /// An operation of `sender` under nonce `key`, with the bundler's fees and generous limits to estimate from.
    async fn op(&self, sender: Address, key: U192, call_data: Vec<u8>) -> UserOperation {
        let fees = self.bundler.user_operation_gas_price().await.unwrap();
        UserOperation {
            sender,
            nonce: self.entry_point_nonce(sender, key).await,
            call_data: call_data.into(),
            call_gas_limit: U128::from(500_000),
            verification_gas_limit: U128::from(1_000_000),
            pre_verification_gas: U256::from(200_000),
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            ..Default::default()
        }
    }

    async fn sign(&self, op: &mut UserOperation, signer: &Signer<'_>) -> B256 {
        let delegate = warrant_core::eip7702::parse_delegation_designator(&self.code(op.sender).await);
        let hash = op.hash(ENTRY_POINT_V08, self.chain_id, op.eip7702_delegate(delegate)).unwrap();
        op.signature = signer.sign(hash, op.sender, self.contracts.validator, self.chain_id);
        hash
    }

    /// Signs, asks the bundler for gas limits, applies them and signs again (the limits are part of the hash).
    async fn prepare(
        &self,
        op: UserOperation,
        auth: Option<SignedAuthorization>,
        signer: &Signer<'_>,
    ) -> UserOperation {
        let mut op = UserOperation { eip7702_auth: auth, ..op };
        // Session ops are estimated with a throwaway key's signature: the validator then skips the gas caps and
        // counts 1 wei of gas (its estimation rule), so the bundler's own large limits don't exceed the budget.
        let throwaway = PrivateKeySigner::random();
        let estimating = match signer {
            Signer::Owner(key) => Signer::Owner(key),
            Signer::Use(_, session) => Signer::Use(&throwaway, session),
            Signer::Enable(_, grant, owner_signature) => Signer::Enable(&throwaway, grant, owner_signature),
            // P-256: a valid signature by a throwaway key of the same kind, so the precompile runs once, as for
            // the real signature.
            Signer::UseP256(key, session) => Signer::EstimateP256(key.kind(), session, None),
            Signer::EnableP256(key, grant, owner_signature) => {
                Signer::EstimateP256(key.kind(), &grant.session, Some((grant, owner_signature)))
            }
            Signer::EstimateP256(kind, session, presented) => {
                Signer::EstimateP256(*kind, session, *presented)
            }
        };
        self.sign(&mut op, &estimating).await;
        let estimate = self
            .bundler
            .estimate_user_operation_gas(&op)
            .await
            .unwrap_or_else(|e| panic!("eth_estimateUserOperationGas: {e}"));
        estimate.apply(&mut op);
        // Headroom against a false "reverts on oog" under anvil's tracer (docs/e2e.md): it reports the gas used
        // by a returned CALL as the cost of the caller's next opcode, so the caller must keep more gas than
        // its callee used. Every ERC-7562 check still runs on the trace.
        op.verification_gas_limit =
            op.verification_gas_limit.saturating_mul(U128::from(VERIFICATION_HEADROOM));
        self.sign(&mut op, signer).await;
        op
    }

    /// Sends an operation, checks the bundler computed the hash we signed, and waits for its receipt.
    async fn submit(&self, op: &UserOperation, what: &str) -> UserOperationReceipt {
        let delegate = warrant_core::eip7702::parse_delegation_designator(&self.code(op.sender).await);
        let expected = op.hash(ENTRY_POINT_V08, self.chain_id, op.eip7702_delegate(delegate)).unwrap();
        let hash = self
            .bundler
            .send_user_operation(op)
            .await
            .unwrap_or_else(|e| panic!("{what}: eth_sendUserOperation refused it: {e}"));
        assert_eq!(hash, expected, "{what}: the bundler's userOpHash is the one the EntryPoint signs over");
        let receipt = self.bundler.wait_for_receipt(hash, RECEIPT_TIMEOUT).await.unwrap();
        assert_eq!(receipt.user_op_hash, hash);
        assert_eq!(receipt.sender, op.sender);
        assert_eq!(receipt.entry_point, ENTRY_POINT_V08);
        assert!(receipt.success, "{what}: execution reverted: {:?}", receipt.reason);
        assert!(receipt.receipt.status(), "{what}: the bundle transaction failed");
        println!(
            "{what}: included in block {:?}, {} gas charged to the operation, bundle transaction {} gas",
            receipt.receipt.block_number, receipt.actual_gas_used, receipt.receipt.gas_used
        );
        receipt
    }

    /// Sends an operation the validator must refuse; returns the bundler's error.
    async fn refused(&self, op: &UserOperation, what: &str) -> BundlerRpcError {
        match self.bundler.send_user_operation(op).await {
            Err(ChainError::Bundler(e)) => {
                println!("{what}: refused by Alto ({}): {}", e.code, e.message);
                e
            }
            Ok(hash) => panic!("{what}: Alto accepted an out-of-scope operation ({hash})"),
            Err(e) => panic!("{what}: unexpected failure: {e}"),
        }
    }

    /// The owner's ERC-7739 signature of `grant` (what `WarrantAccount.isValidSignature` checks).
    fn owner_grant_signature(&self, owner: &PrivateKeySigner, grant: &Grant) -> Bytes {
        let digest = grant.erc7739_digest(self.contracts.validator, self.chain_id);
        let raw = owner.sign_hash_sync(&digest).unwrap().as_bytes();
        grant.erc7739_signature(self.contracts.validator, self.chain_id, &raw)
    }

    /// A `WarrantAccount` proxy of `owner`, funded with 10 ETH while counterfactual and deployed by the initCode
    /// of its first operation (an owner op installing the validator), sent through Alto as `what`.
    async fn deploy_by_init_code(&self, owner: &PrivateKeySigner, what: &str) -> Address {
        let WarrantContracts { factory, validator, .. } = self.contracts;
        let salt = random_b256();
        let account = self.view(factory, IFactory::getAddressCall { owner: owner.address(), salt }).await;
        assert!(self.code(account).await.is_empty(), "counterfactual");
        self.net.set_balance(account, U256::from(10 * ETH)).await.unwrap();
        let mut op = self.op(account, U192::ZERO, install_validator(validator)).await;
        op.factory = Some(factory);
        op.factory_data =
            Some(IFactory::createAccountCall { owner: owner.address(), salt }.abi_encode().into());
        let op = self.prepare(op, None, &Signer::Owner(owner)).await;
        self.submit(&op, what).await;
        assert!(!self.code(account).await.is_empty(), "deployed");
        account
    }

    async fn grant(&self, account: Address, session: &Session) -> Grant {
        let epoch = self.view(self.contracts.validator, IWarrantValidator::epochOfCall { account }).await;
        Grant { account, epoch: epoch.to(), session: session.clone() }
    }
}

fn validator_key(validator: Address) -> U192 {
    let nonce = validator_nonce(validator, 0, 0);
    U192::from_be_slice(&nonce.to_be_bytes::<32>()[..24])
}

/// `execute(0x00…, target ‖ value ‖ data)`: one call, revert on failure.
fn execute_single(target: Address, value: U256, data: &[u8]) -> Vec<u8> {
    let mut execution = target.to_vec();
    execution.extend_from_slice(&value.to_be_bytes::<32>());
    execution.extend_from_slice(data);
    IAccount::executeCall { mode: B256::ZERO, executionCalldata: execution.into() }.abi_encode()
}

fn install_validator(validator: Address) -> Vec<u8> {
    IAccount::installModuleCall {
        moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
        module: validator,
        initData: Bytes::new(),
    }
    .abi_encode()
}

/// A session paying `recipient` at most 0.02 ETH a call and, with the gas the account pays (counted as native
/// value), 0.2 ETH in all, for an hour.
fn payment_session(signer: Address, recipient: Address, now: u64) -> Session {
    Session {
        signer,
        salt: random_b256(),
        scope: Scope {
            validAfter: Default::default(),
            validUntil: alloy::primitives::aliases::U48::from(now + 3600),
            maxUses: 5,
            maxValueTotal: U256::from(20 * ETH / 100),
            paymaster: Address::ZERO,
            maxGasLimit: 0,
            maxFeePerGas: 0,
            calls: vec![CallPolicy {
                target: recipient,
                selector: Default::default(),
                flags: 0,
                maxValue: U256::from(2 * ETH / 100),
                conditions: vec![],
            }],
            ..Default::default()
        },
    }
}

/// Pre-flight of a session operation exactly as the validator will judge it, with the usage read from chain.
async fn preflight(
    h: &Harness,
    session: &Session,
    presentation: Presentation,
    op: &UserOperation,
) -> Result<(), Denial> {
    let account = op.sender;
    let id = session.id(account);
    check_time(&session.scope, h.now().await)?;
    let usage = h.usage(account, id).await;
    // What the account holds of each gate's token, read from the module as the validator reads it.
    let holdings =
        read_holdings(h.net.provider(), &session.scope, account, h.contracts.validator).await.unwrap();
    check_operation(&OpCheck {
        session_id: id,
        scope: &session.scope,
        usage: &usage,
        presentation,
        op: &op.pack(),
        account,
        module: h.contracts.validator,
        period: 0,
        signature_valid: true,
        holdings: &holdings,
    })
    .map(|_| ())
}

/// Delegation by a user operation's `eip7702Auth`, a grant enabled by the session key's first operation, USE
/// operations, out-of-scope operations refused by pre-flight and by Alto with the rule named, revocation, and
/// the temporary mode's pre-signed reset.
#[tokio::test]
async fn eip7702_account_sessions_through_alto() {
    let h = Harness::start().await;
    let WarrantContracts { implementation, validator, .. } = h.contracts;
    let eoa = PrivateKeySigner::random();
    let account = eoa.address();
    h.net.set_balance(account, U256::from(10 * ETH)).await.unwrap();
    let recipient = random_address();
    let stranger = random_address();

    // Temporary mode: the reset authorization is signed before anything else. The delegation comes with the
    // user operation (the bundler relays it), so it uses the EOA's current nonce and the reset the next one.
    let start_nonce = h.eoa_nonce(account).await;
    let reset = sign_authorization(
        &eoa,
        reset_authorization(h.chain_id, reset_nonce(start_nonce, false, 0)).unwrap(),
    )
    .unwrap();

    // 1. Delegation carried by the first user operation (no type-4 transaction of ours), which installs the
    //    validator module. The delegate's code is checked first, as the toolkit does before signing.
    check_delegate_code(implementation, &h.code(implementation).await).unwrap();
    let auth = sign_authorization(
        &eoa,
        authorization(h.chain_id, implementation, start_nonce, ChainScope::ThisChainOnly).unwrap(),
    )
    .unwrap();
    assert!(h.code(account).await.is_empty(), "a fresh EOA");
    let mut op = h.op(account, U192::ZERO, install_validator(validator)).await;
    op.factory = Some(EIP7702_FACTORY);
    let op = h.prepare(op, Some(auth), &Signer::Owner(&eoa)).await;
    assert!(
        op.pre_verification_gas > U256::from(25_000),
        "the 7702 tuple's 25,000 gas is in preVerificationGas"
    );
    h.submit(&op, "7702 delegation + installModule (owner op with eip7702Auth)").await;
    assert_eq!(h.code(account).await.as_ref(), delegation_designator(implementation).as_slice());
    assert_eq!(h.eoa_nonce(account).await, start_nonce + 1, "the tuple bumped the EOA's nonce");
    let installed = h
        .view(
            account,
            IAccount::isModuleInstalledCall {
                moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
                module: validator,
                additionalContext: Bytes::new(),
            },
        )
        .await;
    assert!(installed, "the validator module is installed");

    // 2. A grant, enabled by the session key's first operation (ENABLE), then a USE operation.
    let session_key = PrivateKeySigner::random();
    let session = payment_session(session_key.address(), recipient, h.now().await);
    let id = session.id(account);
    let grant = h.grant(account, &session).await;
    let owner_signature = h.owner_grant_signature(&eoa, &grant);
    let key = validator_key(validator);
    let pay = |amount: u128, to: Address| execute_single(to, U256::from(amount), &[]);

    let enable_signer = Signer::Enable(&session_key, &grant, &owner_signature);
    let op = h.prepare(h.op(account, key, pay(ETH / 100, recipient)).await, None, &enable_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Enable, &op).await, Ok(()));
    h.submit(&op, "session ENABLE op (grant + first payment)").await;
    let usage = h.usage(account, id).await;
    // The value sent plus the gas the account may pay (its maximum prefund), both native value leaving it.
    let spent = U256::from(ETH / 100) + max_gas_cost(&op.pack());
    assert_eq!((usage.status, usage.uses, U256::from(usage.value_spent)), (SessionStatus::Enabled, 1, spent));
    assert_eq!(h.balance(recipient).await, U256::from(ETH / 100));

    let use_signer = Signer::Use(&session_key, &session);
    let op = h.prepare(h.op(account, key, pay(ETH / 100, recipient)).await, None, &use_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Ok(()));
    h.submit(&op, "session USE op").await;
    assert_eq!(h.usage(account, id).await.uses, 2);
    assert_eq!(h.balance(recipient).await, U256::from(2 * ETH / 100));
    let gas = op.clone();

    // 3. Out of scope: refused by pre-flight before sending and, sent anyway, by Alto's simulation, with the
    //    validator's rule recoverable from Alto's error. Gas limits are those of the accepted operation (the
    //    estimate of a refused operation fails the same way).
    let out_of_scope = |call_data: Vec<u8>| {
        let mut op = gas.clone();
        op.call_data = call_data.into();
        op
    };
    let mut op = out_of_scope(pay(ETH / 100, stranger));
    h.sign(&mut op, &use_signer).await;
    let expected =
        WarrantErrors::CallNotPermitted { index: U256::ZERO, target: stranger, selector: Default::default() };
    assert_eq!(
        preflight(&h, &session, Presentation::Use, &op).await,
        Err(Denial::CallNotPermitted { index: 0, target: stranger, selector: Default::default() })
    );
    let e = h.refused(&op, "payment to a stranger").await;
    assert_eq!(e.kind, BundlerErrorKind::SimulateValidation);
    assert_eq!(e.warrant_rule(), Some(WarrantErrors::WarrantErrorsErrors::CallNotPermitted(expected)));
    assert_eq!(e.warrant_rule_name(), Some("CallNotPermitted"));

    let mut op = out_of_scope(pay(3 * ETH / 100, recipient));
    h.sign(&mut op, &use_signer).await;
    assert_eq!(
        preflight(&h, &session, Presentation::Use, &op).await,
        Err(Denial::CallValueExceeded {
            index: 0,
            value: U256::from(3 * ETH / 100),
            cap: U256::from(2 * ETH / 100)
        })
    );
    let e = h.refused(&op, "payment above the per-call cap").await;
    assert_eq!(e.kind, BundlerErrorKind::SimulateValidation);
    assert_eq!(e.warrant_rule_name(), Some("CallValueExceeded"));
    assert_eq!(h.usage(account, id).await.uses, 2, "refused operations debit nothing");

    // 4. Revocation (an owner operation) takes effect for the next operation.
    let revoke = IWarrantValidator::revokeSessionCall { id }.abi_encode();
    let op = h
        .prepare(
            h.op(account, U192::ZERO, execute_single(validator, U256::ZERO, &revoke)).await,
            None,
            &Signer::Owner(&eoa),
        )
        .await;
    h.submit(&op, "owner op revoking the session").await;
    assert_eq!(h.usage(account, id).await.status, SessionStatus::Revoked);
    let mut op = out_of_scope(pay(ETH / 100, recipient));
    op.nonce = h.entry_point_nonce(account, key).await;
    h.sign(&mut op, &use_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Err(Denial::SessionRevoked { id }));
    let e = h.refused(&op, "payment after revocation").await;
    assert_eq!(
        e.warrant_rule(),
        Some(WarrantErrors::WarrantErrorsErrors::SessionRevoked(WarrantErrors::SessionRevoked { id }))
    );

    // 5. Temporary mode: anyone broadcasts the pre-signed reset in a type-4 transaction; the account is a plain
    //    EOA again and sends an ordinary transfer.
    let relayer = h.net.signer(FIRST_FREE_ACCOUNT).address();
    let tx = TransactionRequest::default()
        .with_from(relayer)
        .with_to(relayer)
        .with_authorization_list(vec![reset]);
    let receipt = h.net.send(tx).await.unwrap();
    println!("type-4 reset transaction: {} gas", receipt.gas_used);
    assert!(h.code(account).await.is_empty(), "the delegation is cleared");
    let eoa_provider = ProviderBuilder::new().wallet(eoa.clone()).connect_http(h.net.rpc_url().clone());
    let before = h.balance(recipient).await;
    let transfer = TransactionRequest::default().with_to(recipient).with_value(U256::from(ETH / 1000));
    let receipt = eoa_provider.send_transaction(transfer).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "a plain transfer from the restored EOA");
    assert_eq!(h.balance(recipient).await, before + U256::from(ETH / 1000));
}

/// A proxy-mode account deployed by its factory in its first operation (initCode), then a session on it.
#[tokio::test]
async fn factory_account_session_through_alto() {
    let h = Harness::start().await;
    let WarrantContracts { validator, .. } = h.contracts;
    let owner = PrivateKeySigner::random();
    let recipient = random_address();

    // 6. Deployment by initCode in the first operation, which installs the validator. The session can't be
    //    enabled in this operation (docs/e2e.md: no validator at validation time, and ERC-7562 STO-022).
    let account =
        h.deploy_by_init_code(&owner, "factory deployment + installModule (owner op with initCode)").await;

    let session_key = PrivateKeySigner::random();
    let session = payment_session(session_key.address(), recipient, h.now().await);
    let grant = h.grant(account, &session).await;
    let owner_signature = h.owner_grant_signature(&owner, &grant);
    let key = validator_key(validator);
    let pay = execute_single(recipient, U256::from(ETH / 100), &[]);

    let enable_signer = Signer::Enable(&session_key, &grant, &owner_signature);
    let op = h.prepare(h.op(account, key, pay.clone()).await, None, &enable_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Enable, &op).await, Ok(()));
    h.submit(&op, "proxy account: session ENABLE op").await;

    let use_signer = Signer::Use(&session_key, &session);
    let op = h.prepare(h.op(account, key, pay).await, None, &use_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Ok(()));
    h.submit(&op, "proxy account: session USE op").await;
    let usage = h.usage(account, session.id(account)).await;
    assert_eq!((usage.status, usage.uses), (SessionStatus::Enabled, 2));
    assert_eq!(h.balance(recipient).await, U256::from(2 * ETH / 100));

    // Out of scope on the proxy account too: refused by Alto with the rule named.
    let mut op = op.clone();
    op.nonce = h.entry_point_nonce(account, key).await;
    op.call_data = execute_single(random_address(), U256::from(ETH / 100), &[]).into();
    h.sign(&mut op, &use_signer).await;
    let e = h.refused(&op, "proxy account: payment to a stranger").await;
    assert_eq!(e.warrant_rule_name(), Some("CallNotPermitted"));
}

/// A WebCrypto P-256 session key on a proxy account, through Alto in safe mode: the validator's STATICCALL to the
/// P256VERIFY precompile (0x100) passes Alto's ERC-7562 tracing (OP-062; see `e2e/patch-alto.mjs`), estimation
/// with a throwaway P-256 key's signature works, ENABLE and USE are mined, and a signature by another P-256 key is
/// refused as a signature error.
#[tokio::test]
async fn p256_session_through_alto() {
    let h = Harness::start().await;
    let WarrantContracts { validator, .. } = h.contracts;
    let owner = PrivateKeySigner::random();
    let recipient = random_address();
    let account = h.deploy_by_init_code(&owner, "P-256: factory deployment + installModule").await;

    let key = P256Signer::from_bytes(P256Kind::WebCrypto, &random_b256().0).unwrap();
    let session = payment_session(key.signer(), recipient, h.now().await);
    let grant = h.grant(account, &session).await;
    let owner_signature = h.owner_grant_signature(&owner, &grant);
    let nonce_key = validator_key(validator);
    let pay = execute_single(recipient, U256::from(ETH / 100), &[]);

    let enable_signer = Signer::EnableP256(&key, &grant, &owner_signature);
    let op = h.prepare(h.op(account, nonce_key, pay.clone()).await, None, &enable_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Enable, &op).await, Ok(()));
    let enabled = h.submit(&op, "P-256 (WebCrypto) session ENABLE op").await;

    let use_signer = Signer::UseP256(&key, &session);
    let op = h.prepare(h.op(account, nonce_key, pay.clone()).await, None, &use_signer).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Ok(()));
    let used = h.submit(&op, "P-256 (WebCrypto) session USE op").await;
    let usage = h.usage(account, session.id(account)).await;
    assert_eq!((usage.status, usage.uses), (SessionStatus::Enabled, 2));
    assert_eq!(h.balance(recipient).await, U256::from(2 * ETH / 100));
    println!(
        "P-256 through Alto: ENABLE {} gas and USE {} gas charged to the operations",
        enabled.actual_gas_used, used.actual_gas_used
    );

    // Another P-256 key signs the next op: refused by Alto as a signature error (AA24), not as an ERC-7562 breach.
    let stranger = P256Signer::from_bytes(P256Kind::WebCrypto, &random_b256().0).unwrap();
    let mut op = op.clone();
    op.nonce = h.entry_point_nonce(account, nonce_key).await;
    h.sign(&mut op, &Signer::UseP256(&stranger, &session)).await;
    let e = h.refused(&op, "P-256: another key's signature").await;
    assert_eq!(e.kind, BundlerErrorKind::InvalidSignature, "{e}");
}

/// Deploys `name` from `contracts/out/Mocks.sol`, with `args` (ABI-encoded constructor arguments) appended.
async fn deploy_mock(h: &Harness, name: &str, args: &[u8]) -> Address {
    let mut code = artifacts::warrant_creation_code("Mocks.sol", name).unwrap().to_vec();
    code.extend_from_slice(args);
    h.net.deploy(code.into()).await.unwrap_or_else(|e| panic!("deploying {name}: {e}"))
}

/// A gate of `kind` on `token`.
fn gate(token: Address, kind: u8, token_id: u64, min: U256) -> Gate {
    Gate { token, kind, tokenId: U256::from(token_id), minBalance: min }
}

/// Gated sessions on a 7702 account through Alto in safe mode: an ERC-721 "session pass" moved away (the next op
/// is refused with `GateNotHeld`) and back (ops pass again), an ERC-20 and an ERC-1155 gate accepted, the gate
/// probe on each token, and a gate on a proxied token, which the probe refuses and so does Alto's ERC-7562 tracer.
/// At every step the pre-flight, fed the holdings read from chain, says what Alto and the chain did.
#[tokio::test]
async fn gated_sessions_through_alto() {
    let h = Harness::start().await;
    let WarrantContracts { implementation, validator, .. } = h.contracts;
    let token = deploy_mock(&h, "MockToken", &[]).await;
    let pass = deploy_mock(&h, "MockNft", &[]).await;
    let multi = deploy_mock(&h, "MockMultiToken", &[]).await;
    let proxied =
        deploy_mock(&h, "MockProxiedToken", B256::left_padding_from(token.as_slice()).as_slice()).await;

    // A delegated EOA with the validator installed (one owner op carrying the authorization).
    let eoa = PrivateKeySigner::random();
    let account = eoa.address();
    h.net.set_balance(account, U256::from(10 * ETH)).await.unwrap();
    let auth = sign_authorization(
        &eoa,
        authorization(h.chain_id, implementation, h.eoa_nonce(account).await, ChainScope::ThisChainOnly)
            .unwrap(),
    )
    .unwrap();
    let mut op = h.op(account, U192::ZERO, install_validator(validator)).await;
    op.factory = Some(EIP7702_FACTORY);
    let op = h.prepare(op, Some(auth), &Signer::Owner(&eoa)).await;
    h.submit(&op, "gates: 7702 delegation + installModule").await;

    // Holdings: pass #1, 100 tokens (directly and through the proxy, whose storage is its own), 3 of id 7.
    const PASS_ID: u64 = 1;
    const MULTI_ID: u64 = 7;
    let hundred = U256::from(100 * ETH);
    for (to, data) in [
        (pass, IMintable::mintCall { to: account, amountOrId: U256::from(PASS_ID) }.abi_encode()),
        (token, IMintable::mintCall { to: account, amountOrId: hundred }.abi_encode()),
        (proxied, IMintable::mintCall { to: account, amountOrId: hundred }.abi_encode()),
        (
            multi,
            IMultiMintable::mintCall { to: account, id: U256::from(MULTI_ID), amount: U256::from(3) }
                .abi_encode(),
        ),
    ] {
        h.net.send(TransactionRequest::default().with_to(to).with_input(data)).await.unwrap();
    }

    // The grant-time probe on the real node: plain tokens pass; the proxy reads its implementation slot.
    let one = U256::from(1);
    let provider = h.net.provider();
    let probe = |g: Gate| {
        let scope = Scope { gates: vec![g], ..Default::default() };
        async move { probe_gates(provider, &scope, account, validator).await.unwrap() }
    };
    assert_eq!(probe(gate(token, gate_kind::ERC20, 0, one)).await, Ok(()));
    assert_eq!(probe(gate(pass, gate_kind::ERC721, 0, one)).await, Ok(()));
    assert_eq!(probe(gate(multi, gate_kind::ERC1155, MULTI_ID, one)).await, Ok(()));
    let implementation_slot = B256::from(
        U256::from_be_bytes(alloy::primitives::keccak256("eip1967.proxy.implementation").0) - U256::from(1),
    );
    match probe(gate(proxied, gate_kind::ERC20, 0, one)).await {
        Err(GateProbeError::UnassociatedStorage { gate_index: 0, token: t, contract, slot }) => {
            assert_eq!((t, contract, slot), (proxied, proxied, implementation_slot));
        }
        other => panic!("the proxied token's probe: {other:?}"),
    }

    let session_key = PrivateKeySigner::random();
    let recipient = random_address();
    let key = validator_key(validator);
    let pay = || execute_single(recipient, U256::from(ETH / 1000), &[]);
    let gated = |g: Gate, now: u64| {
        let mut s = payment_session(session_key.address(), recipient, now);
        s.scope.gates = vec![g];
        s
    };

    // 1. The session pass: ENABLE and USE pass while the account holds it.
    let session = gated(gate(pass, gate_kind::ERC721, 0, one), h.now().await);
    let grant = h.grant(account, &session).await;
    let owner_signature = h.owner_grant_signature(&eoa, &grant);
    let enable = Signer::Enable(&session_key, &grant, &owner_signature);
    let op = h.prepare(h.op(account, key, pay()).await, None, &enable).await;
    assert_eq!(preflight(&h, &session, Presentation::Enable, &op).await, Ok(()));
    h.submit(&op, "pass-gated session: ENABLE").await;
    let use_pass = Signer::Use(&session_key, &session);
    let op = h.prepare(h.op(account, key, pay()).await, None, &use_pass).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Ok(()));
    h.submit(&op, "pass-gated session: USE").await;
    let accepted = op.clone();

    // 2. The owner moves the pass to a vault: the next session op is refused, by pre-flight and by Alto, with
    //    the rule and its arguments named. Its gas limits are the accepted op's (estimating it fails the same way).
    let vault = PrivateKeySigner::random();
    h.net.set_balance(vault.address(), U256::from(ETH)).await.unwrap();
    let away = IMintable::transferFromCall { from: account, to: vault.address(), id: U256::from(PASS_ID) };
    let op = h
        .prepare(
            h.op(account, U192::ZERO, execute_single(pass, U256::ZERO, &away.abi_encode())).await,
            None,
            &Signer::Owner(&eoa),
        )
        .await;
    h.submit(&op, "owner op moving the pass away").await;
    let mut op = accepted.clone();
    op.nonce = h.entry_point_nonce(account, key).await;
    h.sign(&mut op, &use_pass).await;
    assert_eq!(
        preflight(&h, &session, Presentation::Use, &op).await,
        Err(Denial::GateNotHeld { gate_index: 0, token: pass, balance: U256::ZERO, min_balance: one })
    );
    let uses = h.usage(account, session.id(account)).await.uses;
    let e = h.refused(&op, "pass-gated session without the pass").await;
    assert_eq!(e.kind, BundlerErrorKind::SimulateValidation);
    assert_eq!(e.warrant_rule_name(), Some("GateNotHeld"));
    assert_eq!(
        e.warrant_rule(),
        Some(WarrantErrors::WarrantErrorsErrors::GateNotHeld(WarrantErrors::GateNotHeld {
            gateIndex: U256::ZERO,
            token: pass,
            balance: U256::ZERO,
            minBalance: one,
        }))
    );
    assert_eq!(h.usage(account, session.id(account)).await.uses, uses, "a refused op debits nothing");

    // 3. The pass comes back (a safe transfer: the account accepts ERC-721s) and the session works again.
    let vault_provider = ProviderBuilder::new().wallet(vault.clone()).connect_http(h.net.rpc_url().clone());
    let back =
        IMintable::safeTransferFromCall { from: vault.address(), to: account, id: U256::from(PASS_ID) };
    let tx = TransactionRequest::default().with_to(pass).with_input(back.abi_encode());
    let receipt = vault_provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "the pass comes back");
    let op = h.prepare(h.op(account, key, pay()).await, None, &use_pass).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Ok(()));
    h.submit(&op, "pass-gated session: USE with the pass back").await;
    assert_eq!(h.usage(account, session.id(account)).await.uses, uses + 1);

    // 4. An ERC-20 gate (at least 50 tokens; 100 held) and an ERC-1155 gate (at least 2 of id 7; 3 held).
    for (g, what) in [
        (gate(token, gate_kind::ERC20, 0, U256::from(50 * ETH)), "ERC-20-gated session: ENABLE"),
        (gate(multi, gate_kind::ERC1155, MULTI_ID, U256::from(2)), "ERC-1155-gated session: ENABLE"),
    ] {
        let session = gated(g, h.now().await);
        let grant = h.grant(account, &session).await;
        let owner_signature = h.owner_grant_signature(&eoa, &grant);
        let op = h
            .prepare(
                h.op(account, key, pay()).await,
                None,
                &Signer::Enable(&session_key, &grant, &owner_signature),
            )
            .await;
        assert_eq!(preflight(&h, &session, Presentation::Enable, &op).await, Ok(()));
        h.submit(&op, what).await;
    }

    // 5. A gate on the proxied token, enabled by the owner (static delegation) although the probe refuses it. The
    //    validator itself accepts it (the pre-flight, like an eth_call, sees 100 held); Alto's ERC-7562 tracer
    //    refuses the op for the unassociated implementation slot, as the probe said.
    let session = gated(gate(proxied, gate_kind::ERC20, 0, one), h.now().await);
    let enable_static = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
    let op = h
        .prepare(
            h.op(account, U192::ZERO, execute_single(validator, U256::ZERO, &enable_static)).await,
            None,
            &Signer::Owner(&eoa),
        )
        .await;
    h.submit(&op, "owner op enabling the proxy-gated session").await;
    let mut op = accepted;
    op.nonce = h.entry_point_nonce(account, key).await;
    let use_proxied = Signer::Use(&session_key, &session);
    h.sign(&mut op, &use_proxied).await;
    assert_eq!(preflight(&h, &session, Presentation::Use, &op).await, Ok(()));
    let e = h.refused(&op, "proxy-gated session").await;
    // Alto 0.0.20 words it "unstaked account accessed <contract> slot <slot>" (STO-021), code -32502.
    assert_eq!(e.kind, BundlerErrorKind::OpcodeValidation, "an ERC-7562 rule, not the validator: {e}");
    let message = e.message.to_lowercase();
    assert!(message.contains("unstaked account accessed"), "{e}");
    assert!(message.contains(&proxied.to_string().to_lowercase()), "the proxy is named: {e}");
    assert!(message.contains(&implementation_slot.to_string()), "its implementation slot is named: {e}");
    assert_eq!(e.warrant_rule(), None);
}

fn random_address() -> Address {
    Address::from(rand::random::<[u8; 20]>())
}

fn random_b256() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}

/// The local addresses (hex, as `/proc/net/tcp{,6}` writes them) of every socket listening on `port`.
fn listening_addresses(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st …; st 0A is LISTEN.
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else { continue };
            let Some((address, hex_port)) = local.split_once(':') else { continue };
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                out.push(address.to_owned());
            }
        }
    }
    out
}

/// Both servers listen on 127.0.0.1 only, and dropping the network stops every process it started, and their
/// process groups with them.
#[tokio::test]
async fn devnet_stops_every_process_on_drop() {
    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let pids = net.process_ids();
    assert_eq!(pids.len(), 2, "anvil and Alto");
    let alive = |pid: u32| {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as i32, 0) == 0 }
    };
    assert!(pids.iter().all(|&pid| alive(pid)));
    // Both servers listen on loopback only (Alto would bind 0.0.0.0 without the harness's preload).
    for url in [net.rpc_url(), net.bundler_url()] {
        let port = url.port().expect("a port");
        let listening = listening_addresses(port);
        assert!(!listening.is_empty(), "nothing listens on port {port} ({url})");
        assert!(
            listening.iter().all(|a| a == "0100007F" || a == "0000000000000000FFFF00000100007F"),
            "{url} listens beyond loopback: {listening:?} (hex addresses of /proc/net/tcp)"
        );
    }
    let log_dir = net.log_dir().to_owned();
    drop(net);
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the network");
        // SAFETY: as above, for the process group.
        assert!(unsafe { libc::kill(-(pid as i32), 0) } != 0, "process group {pid} survived the network");
    }
    assert!(!log_dir.exists(), "logs of a clean run are removed");
}
