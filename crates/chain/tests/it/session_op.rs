//! The session operation builder against the deployed contracts: operations built and signed by
//! `warrant_core::session_op` (ENABLE with a grant moved through a grant token, USE, batch and single calls,
//! EIP-7702 and proxy accounts, a first operation carrying its `eip7702Auth`) are accepted by the real
//! EntryPoint v0.8 + WarrantAccount + WarrantValidator; and the Rust grant hashes equal the module's.

use alloy::{
    primitives::{Address, B256, Bytes, FixedBytes, U256, address, aliases::U48, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{SolCall, SolError, SolStruct},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use warrant_chain::{DevChain, TxRequest, artifacts};
use warrant_core::{
    IEntryPoint, UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    eip7702::{ChainScope, authorization, sign_authorization},
    grant::{
        ArgCondition, CallPolicy, Grant, IWarrantValidator, Scope, Session, WarrantErrors, arg_type,
        enable_digest, use_digest, use_signature,
    },
    policy::{Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage, check_operation},
    session_op::{
        EIP7702_MARKER, Eip7702Sender, GasFields, SessionOp, execute_single, session_nonce_key, sign_grant,
    },
    token::SignedGrant,
};

sol! {
    function IMPLEMENTATION() external view returns (address);
    function createAccount(address owner, bytes32 salt) external returns (address account);
    function getAddress(address owner, bytes32 salt) external view returns (address);
    function installModule(uint256 moduleTypeId, address module, bytes initData) external;
    function mint(address to, uint256 amount) external;
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
}

const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const RECIPIENT: Address = address!("0x000000000000000000000000000000000000bEEF");
const USDC: u64 = 1_000_000; // the mock token's unit in these tests (6 decimals)

struct World {
    chain: DevChain,
    factory: Address,
    implementation: Address,
    module: Address,
    token: Address,
    session_key: PrivateKeySigner,
}

fn world() -> World {
    let mut chain = DevChain::new(Default::default()).unwrap();
    let code = |file: &str, name: &str| artifacts::warrant_creation_code(file, name).unwrap();
    let factory = chain.deploy(code("WarrantAccountFactory.sol", "WarrantAccountFactory")).unwrap();
    let implementation = chain.call_sol(factory, &IMPLEMENTATIONCall {}).unwrap();
    let module = chain.deploy(code("WarrantValidator.sol", "WarrantValidator")).unwrap();
    let token = chain.deploy(code("Mocks.sol", "MockToken")).unwrap();
    let session_key = PrivateKeySigner::from_bytes(&keccak256("builder session key")).unwrap();
    World { chain, factory, implementation, module, token, session_key }
}

impl World {
    fn send(&mut self, to: Address, data: Vec<u8>) {
        let from = self.chain.dev_account(0);
        let r = self
            .chain
            .transact(TxRequest { from, to: Some(to), data: data.into(), ..Default::default() })
            .unwrap();
        assert!(r.success, "transaction to {to} reverted: {}", r.output);
    }

    fn fund(&mut self, account: Address) {
        self.chain.set_balance(account, U256::from(10 * ONE_ETH));
        self.send(self.token, mintCall { to: account, amount: U256::from(1000 * USDC) }.abi_encode());
    }

    /// A proxy account of a fresh owner from the factory (`salt`), funded, with the module installed by an owner
    /// operation.
    fn proxy_account_with_module(&mut self, salt: B256) -> (PrivateKeySigner, Address) {
        let owner = PrivateKeySigner::random();
        let factory = self.factory;
        self.send(factory, createAccountCall { owner: owner.address(), salt }.abi_encode());
        let account = self.chain.call_sol(factory, &getAddressCall { owner: owner.address(), salt }).unwrap();
        assert!(!self.chain.code(account).is_empty(), "the factory deployed the account");
        self.fund(account);
        let install = self.owner_op(account, &owner, install_module_call(self.module), None);
        self.run(&install);
        (owner, account)
    }

    fn token_balance(&mut self, account: Address) -> U256 {
        self.chain.call_sol(self.token, &balanceOfCall { account }).unwrap()
    }

    /// An operation of the owner (nonce key 0, raw ECDSA signature of the userOpHash).
    fn owner_op(
        &mut self,
        account: Address,
        owner: &PrivateKeySigner,
        call_data: Vec<u8>,
        delegate: Option<Address>,
    ) -> UserOperation {
        let mut op = UserOperation {
            sender: account,
            nonce: self.chain.entry_point_nonce(account, Default::default()).unwrap(),
            factory: delegate.map(|_| EIP7702_MARKER),
            call_data: call_data.into(),
            ..gas().into_op()
        };
        let hash = op.hash(ENTRY_POINT_V08, self.chain.chain_id(), delegate).unwrap();
        op.signature = owner.sign_hash_sync(&hash).unwrap().as_bytes().to_vec().into();
        op
    }

    /// Runs one operation; panics unless it executed successfully. Returns the bundle's gas.
    fn run(&mut self, op: &UserOperation) -> u64 {
        let outcome = self.chain.handle_ops(vec![op.pack()], self.chain.dev_account(9)).unwrap();
        assert!(outcome.receipt.success, "handleOps reverted: {:?}", outcome.failure);
        assert_eq!(outcome.user_operation_events.len(), 1);
        assert!(outcome.user_operation_events[0].success, "execution reverted: {:?}", outcome.revert_reasons);
        outcome.receipt.gas_used
    }

    /// Runs one operation that must fail validation with the Warrant custom error `E` (AA23).
    fn run_refused<E: SolError>(&mut self, op: &UserOperation) {
        let outcome = self.chain.handle_ops(vec![op.pack()], self.chain.dev_account(9)).unwrap();
        match outcome.failure {
            Some(IEntryPoint::IEntryPointErrors::FailedOpWithRevert(f)) => {
                assert_eq!(f.reason, "AA23 reverted");
                assert_eq!(&f.inner[..4], E::SELECTOR.as_slice(), "expected {}", E::SIGNATURE);
            }
            other => panic!("expected AA23 with {}, got {other:?}", E::SIGNATURE),
        }
    }

    fn sequence(&mut self, account: Address) -> u64 {
        let nonce = self.chain.entry_point_nonce(account, session_nonce_key(self.module, 0)).unwrap();
        nonce.as_limbs()[0] // getNonce returns key ‖ sequence; the sequence is the low 64 bits
    }

    fn session_op(
        &mut self,
        account: Address,
        calls: Vec<Call>,
        eip7702: Option<Eip7702Sender>,
    ) -> SessionOp {
        SessionOp {
            account,
            module: self.module,
            chain_id: self.chain.chain_id(),
            account_kind: AccountKind::WarrantAccount,
            calls,
            gas: gas(),
            key_suffix: 0,
            period: 0,
            sequence: self.sequence(account),
            eip7702,
        }
    }

    fn token_transfer(&self, amount: u64) -> Call {
        Call {
            target: self.token,
            value: U256::ZERO,
            data: transferCall { to: RECIPIENT, amount: U256::from(amount) }.abi_encode(),
        }
    }

    /// transfer(RECIPIENT, ≤ 100 units) on the token, at most 5 times, for a day; the account pays gas from a
    /// 0.1 ETH budget.
    fn scope(&mut self) -> Scope {
        let now = self.chain.timestamp();
        Scope {
            validAfter: U48::ZERO,
            validUntil: U48::from(now + 86_400),
            maxUses: 5,
            maxValueTotal: U256::from(ONE_ETH / 10),
            paymaster: Address::ZERO,
            maxGasLimit: 2_000_000,
            maxFeePerGas: 10_000_000_000,
            calls: vec![CallPolicy {
                target: self.token,
                selector: transferCall::SELECTOR.into(),
                flags: 0,
                maxValue: U256::ZERO,
                conditions: vec![
                    ArgCondition {
                        condition: 0,
                        argType: arg_type::ADDRESS,
                        argIndex: 0,
                        values: vec![RECIPIENT.into_word()],
                    },
                    ArgCondition {
                        condition: 3,
                        argType: arg_type::uint(256),
                        argIndex: 1,
                        values: vec![B256::from(U256::from(100 * USDC))],
                    },
                ],
            }],
            ..Default::default()
        }
    }

    fn state(&mut self, account: Address, id: B256) -> (u8, u32) {
        let s =
            self.chain.call_sol(self.module, &IWarrantValidator::sessionStateCall { account, id }).unwrap();
        (s.status, s.uses)
    }
}

fn gas() -> GasFields {
    GasFields {
        call_gas_limit: 300_000,
        verification_gas_limit: 1_000_000,
        pre_verification_gas: 60_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        paymaster: None,
    }
}

trait IntoOp {
    fn into_op(self) -> UserOperation;
}

impl IntoOp for GasFields {
    fn into_op(self) -> UserOperation {
        UserOperation {
            call_gas_limit: alloy::primitives::U128::from(self.call_gas_limit),
            verification_gas_limit: alloy::primitives::U128::from(self.verification_gas_limit),
            pre_verification_gas: U256::from(self.pre_verification_gas),
            max_fee_per_gas: alloy::primitives::U128::from(self.max_fee_per_gas),
            max_priority_fee_per_gas: alloy::primitives::U128::from(self.max_priority_fee_per_gas),
            ..Default::default()
        }
    }
}

fn install_module_call(module: Address) -> Vec<u8> {
    installModuleCall { moduleTypeId: U256::from(1), module, initData: Bytes::new() }.abi_encode()
}

/// Delegates `eoa` to `delegate` with a type-4 transaction relayed by dev account 1.
fn delegate_eoa(w: &mut World, eoa: &PrivateKeySigner, delegate: Address) {
    let nonce = w.chain.nonce(eoa.address());
    let auth = w.chain.sign_authorization(eoa, delegate, nonce).unwrap();
    let relayer = w.chain.dev_account(1);
    let r = w
        .chain
        .transact(TxRequest {
            from: relayer,
            to: Some(relayer),
            authorization_list: vec![auth],
            gas_limit: Some(100_000),
            ..Default::default()
        })
        .unwrap();
    assert!(r.success);
}

#[test]
fn enable_then_use_on_an_eip7702_account() {
    let mut w = world();
    let eoa = PrivateKeySigner::random();
    let account = eoa.address();
    w.fund(account);
    let implementation = w.implementation;
    delegate_eoa(&mut w, &eoa, implementation);
    let install = w.owner_op(account, &eoa, install_module_call(w.module), None);
    w.run(&install);

    let scope = w.scope();
    let epoch: U256 = w.chain.call_sol(w.module, &IWarrantValidator::epochOfCall { account }).unwrap();
    let grant = Grant {
        account,
        epoch: epoch.to::<u64>(),
        session: Session { signer: w.session_key.address(), salt: B256::with_last_byte(1), scope },
    };
    let sender = || Some(Eip7702Sender { delegate: implementation, authorization: None });

    // A grant signed by the wrong key is refused on chain, as the token's recovered owner already shows.
    let forged =
        sign_grant(grant.clone(), w.module, w.chain.chain_id(), &PrivateKeySigner::random()).unwrap();
    assert_ne!(forged.recover_owner(), Some(account));
    let calls = vec![w.token_transfer(40 * USDC), w.token_transfer(60 * USDC)];
    let op = w.session_op(account, calls.clone(), sender()).sign_enable(&forged, &w.session_key).unwrap();
    w.run_refused::<WarrantErrors::InvalidOwnerSignature>(&op.op);

    // The owner signs; the grant travels as a token to the session key's device.
    let token = sign_grant(grant.clone(), w.module, w.chain.chain_id(), &eoa).unwrap().to_token().unwrap();
    let received = SignedGrant::from_token(&token).unwrap();
    assert_eq!(received.recover_owner(), Some(account));

    // ENABLE with a batch of two transfers; the pre-flight evaluator agrees before anything is sent.
    let enable = w.session_op(account, calls, sender()).sign_enable(&received, &w.session_key).unwrap();
    let id = grant.session.id(account);
    let fresh = SessionUsage::default();
    let packed = enable.op.pack();
    check_operation(&OpCheck {
        session_id: id,
        scope: &grant.session.scope,
        usage: &fresh,
        presentation: Presentation::Enable,
        op: &packed,
        account,
        module: w.module,
        period: 0,
        signature_valid: true,
        holdings: &[],
    })
    .unwrap();
    let on_chain_hash =
        w.chain.call_sol(ENTRY_POINT_V08, &IEntryPoint::getUserOpHashCall { userOp: packed }).unwrap();
    assert_eq!(on_chain_hash, enable.hash);
    let enable_gas = w.run(&enable.op);
    assert_eq!(w.token_balance(RECIPIENT), U256::from(100 * USDC));
    assert_eq!(w.state(account, id), (1, 1));

    // USE with a single call.
    let session = grant.session.clone();
    let use_op = w
        .session_op(account, vec![w.token_transfer(USDC)], sender())
        .sign_use(&session, &w.session_key)
        .unwrap();
    let use_gas = w.run(&use_op.op);
    assert_eq!(w.token_balance(RECIPIENT), U256::from(101 * USDC));
    assert_eq!(w.state(account, id), (1, 2));

    // One unit over the cap: the evaluator names the rule, and the chain refuses with that very error.
    let over = w
        .session_op(account, vec![w.token_transfer(100 * USDC + 1)], sender())
        .sign_use(&session, &w.session_key)
        .unwrap();
    let usage = SessionUsage { status: SessionStatus::Enabled, uses: 2, ..Default::default() };
    let denial = check_operation(&OpCheck {
        session_id: id,
        scope: &session.scope,
        usage: &usage,
        presentation: Presentation::Use,
        op: &over.op.pack(),
        account,
        module: w.module,
        period: 0,
        signature_valid: true,
        holdings: &[],
    });
    assert_eq!(denial, Err(Denial::ArgumentConditionFailed { index: 0, arg_index: 1, condition: 3 }));
    w.run_refused::<WarrantErrors::ArgumentConditionFailed>(&over.op);
    println!(
        "builder ops on a 7702 account: ENABLE (2-call batch) {enable_gas} gas, USE (1 call) {use_gas} gas"
    );
}

#[test]
fn static_enable_then_use_on_a_proxy_account() {
    let mut w = world();
    let (owner, account) = w.proxy_account_with_module(B256::with_last_byte(7));

    let session = Session { signer: w.session_key.address(), salt: B256::ZERO, scope: w.scope() };
    let enable_call = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
    let enable = Call { target: w.module, value: U256::ZERO, data: enable_call };
    let owner_enable = w.owner_op(account, &owner, execute_single(&enable).to_vec(), None);
    w.run(&owner_enable);
    assert_eq!(w.state(account, session.id(account)), (1, 0));

    let op = w
        .session_op(account, vec![w.token_transfer(5 * USDC)], None)
        .sign_use(&session, &w.session_key)
        .unwrap();
    assert_eq!(op.op.factory, None);
    let gas_used = w.run(&op.op);
    assert_eq!(w.token_balance(RECIPIENT), U256::from(5 * USDC));
    assert_eq!(w.state(account, session.id(account)), (1, 1));
    println!("builder USE op on a proxy account: {gas_used} gas");
}

#[test]
fn first_operation_carries_its_eip7702_authorization() {
    let mut w = world();
    let eoa = PrivateKeySigner::random();
    let account = eoa.address();
    w.fund(account);
    let implementation = w.implementation;
    assert!(w.chain.code(account).is_empty(), "a plain EOA to begin with");

    // The owner's first operation installs the module; it carries the authorization in its wire form, and
    // the bundler (played here) puts that authorization into the type-4 transaction that calls handleOps.
    let auth = sign_authorization(
        &eoa,
        authorization(w.chain.chain_id(), implementation, w.chain.nonce(account), ChainScope::ThisChainOnly)
            .unwrap(),
    )
    .unwrap();
    let mut op = w.owner_op(account, &eoa, install_module_call(w.module), Some(implementation));
    op.eip7702_auth = Some(auth);
    let wire = serde_json::to_string(&op).unwrap();
    assert!(wire.contains("\"eip7702Auth\":{"), "{wire}");
    let received: UserOperation = serde_json::from_str(&wire).unwrap();
    let bundler = w.chain.dev_account(0);
    let receipt = w
        .chain
        .transact(TxRequest {
            from: bundler,
            to: Some(ENTRY_POINT_V08),
            data: IEntryPoint::handleOpsCall { ops: vec![received.pack()], beneficiary: bundler }
                .abi_encode()
                .into(),
            authorization_list: vec![received.eip7702_auth.clone().unwrap()],
            gas_limit: Some(2_000_000),
            ..Default::default()
        })
        .unwrap();
    assert!(receipt.success, "{}", receipt.output);
    assert_eq!(w.chain.delegate_of(account), Some(implementation));

    // The next operation is already a session's, enabled by a grant.
    let grant = Grant {
        account,
        epoch: 0,
        session: Session { signer: w.session_key.address(), salt: B256::ZERO, scope: w.scope() },
    };
    let signed = sign_grant(grant, w.module, w.chain.chain_id(), &eoa).unwrap();
    let sender = Some(Eip7702Sender { delegate: implementation, authorization: None });
    let op = w
        .session_op(account, vec![w.token_transfer(USDC)], sender)
        .sign_enable(&signed, &w.session_key)
        .unwrap();
    w.run(&op.op);
    assert_eq!(w.token_balance(RECIPIENT), U256::from(USDC));
}

fn random_grant(rng: &mut StdRng) -> Grant {
    let word = |rng: &mut StdRng| B256::from(rng.random::<[u8; 32]>());
    let calls = (0..rng.random_range(0..4))
        .map(|_| CallPolicy {
            target: Address::from(rng.random::<[u8; 20]>()),
            selector: FixedBytes(rng.random()),
            flags: rng.random(),
            maxValue: U256::from_be_bytes(rng.random::<[u8; 32]>()),
            conditions: (0..rng.random_range(0..4))
                .map(|_| ArgCondition {
                    condition: rng.random(),
                    // Mostly known types (0..=0x62), sometimes any byte: the hashes cover ill-formed ones too.
                    argType: if rng.random_bool(0.8) { rng.random_range(0..=0x62) } else { rng.random() },
                    argIndex: rng.random(),
                    values: (0..rng.random_range(0..4)).map(|_| word(rng)).collect(),
                })
                .collect(),
        })
        .collect();
    let mut grant = Grant {
        account: Address::from(rng.random::<[u8; 20]>()),
        epoch: rng.random(),
        session: Session {
            signer: Address::from(rng.random::<[u8; 20]>()),
            salt: word(rng),
            scope: Scope {
                validAfter: U48::from(rng.random_range(0..1u64 << 48)),
                validUntil: U48::from(rng.random_range(0..1u64 << 48)),
                maxUses: rng.random(),
                maxValueTotal: U256::from_be_bytes(rng.random::<[u8; 32]>()),
                paymaster: Address::from(rng.random::<[u8; 20]>()),
                maxGasLimit: rng.random(),
                maxFeePerGas: rng.random(),
                calls,
                ..Default::default()
            },
        },
    };
    // Spend rules too, where they are well formed (the module refuses to id an ill-formed set).
    let scope = &mut grant.session.scope;
    scope.period = rng.random_range(1..=400 * 86_400);
    scope.periodStart = U48::from(rng.random_range(0..1u64 << 40));
    scope.maxUsesPerPeriod = rng.random_range(0..100);
    scope.limits = (0..rng.random_range(0..3))
        .map(|_| warrant_core::grant::SpendLimit {
            token: Address::from(rng.random::<[u8; 20]>()),
            perPeriod: if rng.random_bool(0.3) {
                warrant_core::grant::NO_CAP
            } else {
                rng.random_range(0..1u128 << 112)
            },
            lifetime: if rng.random_bool(0.3) {
                warrant_core::grant::NO_CAP
            } else {
                rng.random_range(0..1u128 << 112)
            },
        })
        .collect();
    if warrant_core::policy::check_spend_rules(scope).is_err() {
        (scope.period, scope.maxUsesPerPeriod, scope.limits) = (0, 0, Vec::new());
        scope.periodStart = U48::ZERO;
    }
    grant
}

#[test]
fn grant_hashes_agree_with_the_deployed_module() {
    let mut w = world();
    let mut rng = StdRng::seed_from_u64(0x6a7a);
    let chain_id = w.chain.chain_id();
    for case in 0..300 {
        let grant = random_grant(&mut rng);
        let m = w.module;
        let digest =
            w.chain.call_sol(m, &IWarrantValidator::grantDigestCall { grant: grant.clone() }).unwrap();
        assert_eq!(digest, grant.digest(m, chain_id), "grantDigest, case {case}");
        let hash = w.chain.call_sol(m, &IWarrantValidator::grantHashCall { grant: grant.clone() }).unwrap();
        assert_eq!(hash, grant.eip712_hash_struct(), "grantHash, case {case}");
        let scope = grant.session.scope.clone();
        let scope_hash =
            w.chain.call_sol(m, &IWarrantValidator::scopeHashCall { scope: scope.clone() }).unwrap();
        assert_eq!(scope_hash, scope.eip712_hash_struct(), "scopeHash, case {case}");
        let id = w
            .chain
            .call_sol(
                m,
                &IWarrantValidator::sessionIdCall { account: grant.account, session: grant.session.clone() },
            )
            .unwrap();
        assert_eq!(id, grant.session.id(grant.account), "sessionId, case {case}");
        // The token carries the grant's ABI unchanged, so the module hashes the decoded grant the same way.
        let token = SignedGrant {
            chain_id,
            module: m,
            grant: grant.clone(),
            owner_signature: Bytes::from_static(&[1]),
            session_key: None,
        }
        .to_token()
        .unwrap();
        assert_eq!(SignedGrant::from_token(&token).unwrap().digest(), digest);
        // What the session key signs: the module's digests equal the SDK's.
        let (op_hash, period) = (B256::from(rng.random::<[u8; 32]>()), rng.random::<u32>());
        let on_chain = w
            .chain
            .call_sol(m, &IWarrantValidator::useDigestCall { userOpHash: op_hash, id, period })
            .unwrap();
        assert_eq!(on_chain, use_digest(op_hash, id, period), "useDigest, case {case}");
        let on_chain = w
            .chain
            .call_sol(
                m,
                &IWarrantValidator::enableDigestCall { userOpHash: op_hash, id, period, grantDigest: digest },
            )
            .unwrap();
        assert_eq!(on_chain, enable_digest(op_hash, id, period, digest), "enableDigest, case {case}");
    }
}

/// Hole 4: the session key's signature names its session. Two sessions of one key are enabled; a relayer takes
/// a signed USE op of the first and swaps in the second's session bytes (everything else, the signature
/// included, unchanged). The signature no longer recovers to the signer for that session: the EntryPoint refuses
/// it as a signature failure, and the second session's uses are not spent.
#[test]
fn a_relayer_cannot_re_point_a_use_op_at_another_session_of_the_same_key() {
    let mut w = world();
    let (owner, account) = w.proxy_account_with_module(B256::with_last_byte(9));
    let small = Session { signer: w.session_key.address(), salt: B256::with_last_byte(1), scope: w.scope() };
    let mut wide = small.clone();
    wide.salt = B256::with_last_byte(2);
    wide.scope.maxUses = 100;
    for session in [&small, &wide] {
        let enable = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
        let call = Call { target: w.module, value: U256::ZERO, data: enable };
        let op = w.owner_op(account, &owner, execute_single(&call).to_vec(), None);
        w.run(&op);
    }

    let signed =
        w.session_op(account, vec![w.token_transfer(USDC)], None).sign_use(&small, &w.session_key).unwrap();
    let mut repointed = signed.op.clone();
    let session_signature = &signed.op.signature[signed.op.signature.len() - 65..];
    repointed.signature = use_signature(&wide, 0, session_signature);
    let outcome = w.chain.handle_ops(vec![repointed.pack()], w.chain.dev_account(9)).unwrap();
    match outcome.failure {
        Some(IEntryPoint::IEntryPointErrors::FailedOp(f)) => assert_eq!(f.reason, "AA24 signature error"),
        other => panic!("expected AA24, got {other:?}"),
    }
    assert_eq!(w.state(account, wide.id(account)), (1, 0), "the other session's uses are untouched");
    // The same op, as signed, goes through and is charged to the session the key named.
    w.run(&signed.op);
    assert_eq!(w.state(account, small.id(account)), (1, 1));
}

/// Hole 5: the period travels in the signature, so it works whatever the nonce key holds (here a key suffix
/// that is not the period, as Nexus or Kernel nonce layouts would have), and a key-signed period can't be changed.
#[test]
fn a_periodic_session_works_with_any_nonce_key_suffix() {
    let mut w = world();
    let (owner, account) = w.proxy_account_with_module(B256::with_last_byte(10));
    let now = w.chain.timestamp();
    let mut scope = w.scope();
    scope.period = 3_600;
    scope.periodStart = U48::from(now - 2 * 3_600 - 10);
    scope.maxUsesPerPeriod = 1;
    let session = Session { signer: w.session_key.address(), salt: B256::ZERO, scope };
    let enable = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
    let call = Call { target: w.module, value: U256::ZERO, data: enable };
    let op = w.owner_op(account, &owner, execute_single(&call).to_vec(), None);
    w.run(&op);

    let period = warrant_core::policy::current_period(&session.scope, now).unwrap();
    assert_eq!(period, 2);
    let suffix = 0xdead_beef;
    let sequence = {
        let nonce = w.chain.entry_point_nonce(account, session_nonce_key(w.module, suffix)).unwrap();
        nonce.as_limbs()[0]
    };
    let mut builder = w.session_op(account, vec![w.token_transfer(USDC)], None);
    (builder.key_suffix, builder.sequence, builder.period) = (suffix, sequence, period);
    let signed = builder.sign_use(&session, &w.session_key).unwrap();
    // A relayer rewriting the period (to dodge the per-period cap later) breaks the key's signature.
    let mut moved = signed.op.clone();
    let mut sig = moved.signature.to_vec();
    sig[1..5].copy_from_slice(&(period + 1).to_be_bytes());
    moved.signature = sig.into();
    let outcome = w.chain.handle_ops(vec![moved.pack()], w.chain.dev_account(9)).unwrap();
    assert!(
        matches!(&outcome.failure, Some(IEntryPoint::IEntryPointErrors::FailedOp(f)) if f.reason.starts_with("AA2")),
        "{:?}",
        outcome.failure
    );
    w.run(&signed.op);
    let p =
        w.chain.call_sol(w.module, &IWarrantValidator::periodStateCall { account, id: session.id(account) });
    let p = p.unwrap();
    assert_eq!((p.periodIndex, p.usesInPeriod), (2, 1));
}

/// A WebCrypto P-256 session key on a proxy account, as a page uses it: the owner's grant travels as a token that
/// carries the key; the page asks the builder for the digest, signs it (here the Rust signer of the same kind),
/// and hands back the signature. ENABLE, then USE; a raw-kind signature of the same key and a key of the other
/// account's signer are refused (AA24). The in-process chain runs Osaka, so P256VERIFY is there.
#[test]
fn p256_webcrypto_session_key_enables_and_uses_through_the_builder() {
    use warrant_core::p256::{P256Kind, P256Signer};
    let mut w = world();
    let (owner, account) = w.proxy_account_with_module(B256::with_last_byte(0x25));
    let key = P256Signer::from_bytes(P256Kind::WebCrypto, &keccak256("builder P-256 key").0).unwrap();
    let scope = w.scope();
    let grant = Grant {
        account,
        epoch: 0,
        session: Session { signer: key.signer(), salt: B256::with_last_byte(2), scope },
    };
    let token = sign_grant(grant.clone(), w.module, w.chain.chain_id(), &owner)
        .unwrap()
        .with_session_key(key.key())
        .unwrap()
        .to_token()
        .unwrap();
    let received = SignedGrant::from_token(&token).unwrap();
    assert_eq!(received.session_key, Some(key.key()));

    let builder = w.session_op(account, vec![w.token_transfer(3 * USDC)], None);
    let unsigned = builder.unsigned().unwrap();
    let digest = builder.enable_digest_for(&received, &unsigned).unwrap();
    let enable =
        builder.with_enable_signature(&received, unsigned, &key.sign_digest(digest).unwrap()).unwrap();
    let enable_gas = w.run(&enable.op);
    let id = grant.session.id(account);
    assert_eq!(w.state(account, id), (1, 1));

    let use_op = w
        .session_op(account, vec![w.token_transfer(USDC)], None)
        .sign_use_p256(&grant.session, &key)
        .unwrap();
    let use_gas = w.run(&use_op.op);
    assert_eq!(w.token_balance(RECIPIENT), U256::from(4 * USDC));
    assert_eq!(w.state(account, id), (1, 2));

    // The same key signing as raw (its digest, not its SHA-256), presented under the raw kind: another
    // identifier, so the off-chain check refuses it, and the chain too when it is sent anyway.
    let raw = P256Signer::from_bytes(P256Kind::Raw, &keccak256("builder P-256 key").0).unwrap();
    let builder = w.session_op(account, vec![w.token_transfer(USDC)], None);
    let mut op = builder.unsigned().unwrap();
    let digest = builder.use_digest_for(&grant.session, &op).unwrap();
    let raw_sig = raw.sign_digest(digest).unwrap();
    assert!(builder.with_use_signature(&grant.session, op.clone(), &raw_sig).is_err());
    op.signature = use_signature(&grant.session, 0, &raw_sig);
    let outcome = w.chain.handle_ops(vec![op.pack()], w.chain.dev_account(9)).unwrap();
    match outcome.failure {
        Some(IEntryPoint::IEntryPointErrors::FailedOp(f)) => assert_eq!(f.reason, "AA24 signature error"),
        other => panic!("expected AA24, got {other:?}"),
    }
    println!("P-256 (WebCrypto) builder ops on a proxy account: ENABLE {enable_gas} gas, USE {use_gas} gas");
}
