//! `warrant demo`: the whole story on an in-process chain, each step with its expected outcome.
//!
//! An EOA delegates (EIP-7702) to `WarrantAccount`, pre-signing the reset authorization that will restore it
//! (temporary mode); its owner installs `WarrantValidator` and signs a grant for a fresh session key; the session
//! key's first operation presents the grant (dynamic delegation), later ones use the enabled session, and every
//! out-of-scope attempt is refused — first by Warrant's pre-flight, then, sent anyway, by the chain, which must
//! name the same rule. A static session, enabled on-chain by the owner, follows, then a session with a daily
//! spend limit that is refused over its limit and accepted again once the period has turned. The pre-signed
//! restore (the zero-address authorization and `revokeAll()` in one EOA transaction) ends it: delegating again
//! later does not revive the old sessions.

use std::process::ExitCode;

use alloy::{
    eips::eip7702::SignedAuthorization,
    primitives::{Address, B256, Bytes, U128, U256, address},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
};
use serde::Serialize;
use warrant_chain::{ChainConfig, DevChain, HandleOpsOutcome, TxRequest, artifacts};
use warrant_core::{
    UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    eip7702,
    grant::{
        ArgCondition, CallPolicy, Gate, Grant, IWarrantValidator, NO_CAP, Scope, Session, SpendLimit,
        arg_type, gate_kind,
    },
    policy::{Call, Denial, Presentation, condition},
    revert,
    session_op::{self, Eip7702Sender, GasFields, SessionOp, session_nonce_key},
    token::SignedGrant,
};

use crate::CliError;
use warrant_client::SessionView;

sol! {
    function installModule(uint256 moduleTypeId, address module, bytes initData);
    function transfer(address to, uint256 amount) returns (bool);
    function approve(address spender, uint256 amount) returns (bool);
    function mint(address to, uint256 amount);
    function transferFrom(address from, address to, uint256 tokenId);
    function safeTransferFrom(address from, address to, uint256 tokenId);
    function balanceOf(address owner) returns (uint256);
    function IMPLEMENTATION() returns (address);
}

const EIP7702_MARKER: Address = address!("0x7702000000000000000000000000000000000000");
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const ONE_TOKEN: u128 = 1_000_000_000_000_000_000;
const MODULE_TYPE_VALIDATOR: u64 = 1;
const GRANT_LIFETIME: u64 = 3600;
const DAY: u32 = 86_400;
/// The token id of the demo's session pass.
const PASS_ID: u64 = 1;
/// The demo sessions' caps on an operation's gas limits (sum) and fee; the ops use 660,000 gas at 3 gwei.
const GAS_CAP: u128 = 1_000_000;
const FEE_CAP: u128 = 5_000_000_000;

/// Arguments of `warrant demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Print one JSON object instead of the narrated story.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Accepted,
    Rejected,
}

/// What the chain did with a step.
struct Observed {
    outcome: Outcome,
    gas_used: u64,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Step {
    name: &'static str,
    #[serde(skip)]
    story: &'static str,
    #[serde(skip)]
    preflight: Option<String>,
    expected: Outcome,
    outcome: Outcome,
    gas_used: u64,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    steps: Vec<Step>,
}

/// The contracts, keys and chain of the story.
struct Demo {
    chain: DevChain,
    /// The EOA's key: after delegation, the account's owner.
    owner: PrivateKeySigner,
    session_key: PrivateKeySigner,
    implementation: Address,
    validator: Address,
    token: Address,
    other_token: Address,
    /// An ERC-721 "session pass" the account holds (token id [`PASS_ID`]).
    pass: Address,
    recipient: Address,
    steps: Vec<Step>,
    /// Set when the pre-flight and the chain disagree on a step: the demo then fails.
    disagreements: Vec<String>,
}

/// `execute` of one call, through the SDK's encoder.
fn exec_single(target: Address, value: U256, data: &[u8]) -> Bytes {
    session_op::execute_single(&Call { target, value, data: data.to_vec() })
}

/// One call, for a session operation.
fn one(target: Address, value: U256, data: &[u8]) -> Vec<Call> {
    vec![Call { target, value, data: data.to_vec() }]
}

fn word(value: impl Into<U256>) -> B256 {
    B256::from(value.into())
}

impl Demo {
    fn new() -> Result<Self, CliError> {
        let mut chain = DevChain::new(ChainConfig::default())?;
        let factory = chain.deploy(artifacts::warrant_creation_code(
            "WarrantAccountFactory.sol",
            "WarrantAccountFactory",
        )?)?;
        let implementation = chain.call_sol(factory, &IMPLEMENTATIONCall {})?;
        let validator =
            chain.deploy(artifacts::warrant_creation_code("WarrantValidator.sol", "WarrantValidator")?)?;
        let token_code = artifacts::warrant_creation_code("Mocks.sol", "MockToken")?;
        let token = chain.deploy(token_code.clone())?;
        let other_token = chain.deploy(token_code)?;
        let pass = chain.deploy(artifacts::warrant_creation_code("Mocks.sol", "MockNft")?)?;
        let owner = PrivateKeySigner::random();
        chain.set_balance(owner.address(), U256::from(10 * ONE_ETH));
        let minter = chain.dev_account(2);
        let data = mintCall { to: owner.address(), amount: U256::from(PASS_ID) }.abi_encode();
        let r = chain.transact(TxRequest {
            from: minter,
            to: Some(pass),
            data: data.into(),
            ..Default::default()
        })?;
        if !r.success {
            return Err(CliError::InvalidInput("the demo's session pass could not be minted".into()));
        }
        for t in [token, other_token] {
            let data = mintCall { to: owner.address(), amount: U256::from(1000 * ONE_TOKEN) }.abi_encode();
            let r = chain.transact(TxRequest {
                from: minter,
                to: Some(t),
                data: data.into(),
                ..Default::default()
            })?;
            if !r.success {
                return Err(CliError::InvalidInput("the demo token could not be minted".into()));
            }
        }
        Ok(Self {
            chain,
            owner,
            session_key: PrivateKeySigner::random(),
            implementation,
            validator,
            token,
            other_token,
            pass,
            recipient: Address::with_last_byte(0xb0),
            steps: Vec::new(),
            disagreements: Vec::new(),
        })
    }

    fn account(&self) -> Address {
        self.owner.address()
    }

    fn record(&mut self, name: &'static str, story: &'static str, expected: Outcome, observed: Observed) {
        self.record_checked(name, story, expected, None, observed);
    }

    fn record_checked(
        &mut self,
        name: &'static str,
        story: &'static str,
        expected: Outcome,
        preflight: Option<String>,
        observed: Observed,
    ) {
        let Observed { outcome, gas_used, error } = observed;
        self.steps.push(Step { name, story, preflight, expected, outcome, gas_used, error });
    }

    /// A type-4 transaction, relayed by a dev account, carrying `auth`.
    fn relay_authorization(
        &mut self,
        auth: SignedAuthorization,
        delegate: Address,
    ) -> Result<Observed, CliError> {
        let relayer = self.chain.dev_account(1);
        let receipt = self.chain.transact(TxRequest {
            from: relayer,
            to: Some(relayer),
            authorization_list: vec![auth],
            gas_limit: Some(100_000),
            ..Default::default()
        })?;
        let applied =
            self.chain.delegate_of(self.account()) == (delegate != Address::ZERO).then_some(delegate);
        Ok(if receipt.success && applied {
            Observed { outcome: Outcome::Accepted, gas_used: receipt.gas_used, error: None }
        } else {
            Observed {
                outcome: Outcome::Rejected,
                gas_used: receipt.gas_used,
                error: Some("authorization not applied".into()),
            }
        })
    }

    /// The account's revocation epoch at the validator.
    fn epoch(&mut self) -> Result<U256, CliError> {
        let account = self.account();
        Ok(self.chain.call_sol(self.validator, &IWarrantValidator::epochOfCall { account })?)
    }

    /// The restore transaction (EIP-7702 zero-address authorization + `revokeAll()`), sent by the EOA at
    /// `nonce` as the pre-signed one would be broadcast.
    fn restore(&mut self, reset: SignedAuthorization, nonce: u64) -> Result<Observed, CliError> {
        if self.chain.nonce(self.account()) != nonce {
            return Err(CliError::InvalidInput(format!("the restore was signed for EOA nonce {nonce}")));
        }
        let receipt = self.chain.transact(TxRequest {
            from: self.account(),
            to: Some(self.validator),
            data: IWarrantValidator::revokeAllCall {}.abi_encode().into(),
            authorization_list: vec![reset],
            gas_limit: Some(200_000),
            ..Default::default()
        })?;
        let cleared = self.chain.delegate_of(self.account()).is_none();
        Ok(if receipt.success && cleared {
            Observed { outcome: Outcome::Accepted, gas_used: receipt.gas_used, error: None }
        } else {
            Observed {
                outcome: Outcome::Rejected,
                gas_used: receipt.gas_used,
                error: Some(
                    "the restore transaction did not clear the delegation and end the sessions".into(),
                ),
            }
        })
    }

    /// An unsigned operation of the account; `validator` selects the module through the nonce key (zero: owner).
    fn op(&mut self, validator: Address, call_data: Bytes) -> Result<UserOperation, CliError> {
        let key = session_nonce_key(validator, 0);
        let nonce = self.chain.entry_point_nonce(self.account(), key)?;
        Ok(UserOperation {
            sender: self.account(),
            nonce,
            // The 7702 marker binds the delegate into the hash: a re-delegated EOA can't replay these ops.
            factory: Some(EIP7702_MARKER),
            call_data,
            call_gas_limit: U128::from(200_000),
            verification_gas_limit: U128::from(400_000),
            pre_verification_gas: U256::from(60_000),
            max_fee_per_gas: U128::from(3_000_000_000u64),
            max_priority_fee_per_gas: U128::from(1_000_000_000u64),
            ..Default::default()
        })
    }

    fn user_op_hash(&self, op: &UserOperation) -> Result<B256, CliError> {
        Ok(op.hash(ENTRY_POINT_V08, self.chain.chain_id(), Some(self.implementation))?)
    }

    fn sign_digest(digest: &B256, key: &PrivateKeySigner) -> Result<Bytes, CliError> {
        Ok(key.sign_hash_sync(digest).map_err(|e| CliError::Signing(e.to_string()))?.as_bytes().into())
    }

    fn owner_op(&mut self, call_data: Bytes) -> Result<UserOperation, CliError> {
        let mut op = self.op(Address::ZERO, call_data)?;
        op.signature = Self::sign_digest(&self.user_op_hash(&op)?, &self.owner)?;
        Ok(op)
    }

    /// The session operation builder for this account now: the sequence from the EntryPoint and the period
    /// from the session's reading (the one rule, [`SessionView::period`]).
    fn session_op(&mut self, session: &Session, calls: Vec<Call>) -> Result<SessionOp, CliError> {
        let view = self.view(session)?;
        let key = session_nonce_key(self.validator, 0);
        let nonce = self.chain.entry_point_nonce(self.account(), key)?;
        Ok(SessionOp {
            account: self.account(),
            module: self.validator,
            chain_id: self.chain.chain_id(),
            account_kind: AccountKind::WarrantAccount,
            calls,
            gas: GasFields {
                call_gas_limit: 200_000,
                verification_gas_limit: 400_000,
                pre_verification_gas: 60_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                paymaster: None,
            },
            key_suffix: 0,
            period: view.period(),
            sequence: (nonce & U256::from(u64::MAX)).to::<u64>(),
            // The 7702 marker binds the delegate into the hash: a re-delegated EOA can't replay these ops.
            eip7702: Some(Eip7702Sender { delegate: self.implementation, authorization: None }),
        })
    }

    /// A USE operation, signed by the session key through the SDK.
    fn session_use_op(&mut self, session: &Session, calls: Vec<Call>) -> Result<UserOperation, CliError> {
        Ok(self.session_op(session, calls)?.sign_use(session, &self.session_key)?.op)
    }

    /// An ENABLE operation: it carries the owner's grant, which the session key's signature binds.
    fn session_enable_op(
        &mut self,
        grant: &SignedGrant,
        calls: Vec<Call>,
    ) -> Result<UserOperation, CliError> {
        Ok(self.session_op(&grant.grant.session, calls)?.sign_enable(grant, &self.session_key)?.op)
    }

    /// What the validator has counted for `session` now, read the way every caller reads it.
    fn view(&mut self, session: &Session) -> Result<SessionView, CliError> {
        let (validator, account) = (self.validator, self.account());
        Ok(SessionView::read_in(&mut self.chain, validator, account, session)?)
    }

    /// The owner's ERC-7739 signature over `grant`, as the account's ERC-1271 checks it.
    fn sign_grant(&self, grant: &Grant) -> Result<Bytes, CliError> {
        let digest = grant.erc7739_digest(self.validator, self.chain.chain_id());
        let raw = self.owner.sign_hash_sync(&digest).map_err(|e| CliError::Signing(e.to_string()))?;
        Ok(grant.erc7739_signature(self.validator, self.chain.chain_id(), &raw.as_bytes()))
    }

    fn bundle(&mut self, op: &UserOperation) -> Result<Observed, CliError> {
        let beneficiary = self.chain.dev_account(0);
        let outcome = self.chain.handle_ops(vec![op.pack()], beneficiary)?;
        Ok(observe(&outcome))
    }

    /// Warrant's pre-flight verdict on a session operation, with the account's counters read from the chain.
    fn preflight(
        &mut self,
        session: &Session,
        presentation: Presentation,
        op: &UserOperation,
    ) -> Result<Result<(), Denial>, CliError> {
        Ok(self.view(session)?.check(presentation, op, true).map(|_| ()))
    }

    /// Runs a session step: pre-flight first, then the chain (sent anyway, to show it refuses on its own), and
    /// records a disagreement if the two do not name the same outcome and rule.
    fn session_step(
        &mut self,
        (name, story): (&'static str, &'static str),
        expected: Outcome,
        session: &Session,
        presentation: Presentation,
        op: UserOperation,
    ) -> Result<(), CliError> {
        let verdict = self.preflight(session, presentation, &op)?;
        let observed = self.bundle(&op)?;
        let agree = match (&verdict, &observed.error) {
            (Ok(()), None) => observed.outcome == Outcome::Accepted,
            (Err(denial), Some(error)) => error_names_rule(error, denial),
            _ => false,
        };
        if !agree {
            self.disagreements.push(format!(
                "{name}: pre-flight said {}, the chain said {}",
                verdict.as_ref().map_or_else(|d| d.to_string(), |()| "allowed".into()),
                observed.error.as_deref().unwrap_or("accepted")
            ));
        }
        let preflight = Some(match verdict {
            Ok(()) => "allowed".to_string(),
            Err(denial) => format!("denied — {denial}"),
        });
        self.record_checked(name, story, expected, preflight, observed);
        Ok(())
    }

    fn token_balance(&mut self, holder: Address) -> Result<U256, CliError> {
        Ok(self.chain.call_sol(self.token, &balanceOfCall { owner: holder })?)
    }
}

/// Whether the chain's error names the same rule as the pre-flight's denial. The EntryPoint enforces the time
/// window itself (AA22); every other rule is the validator's custom error inside AA23.
fn error_names_rule(error: &str, denial: &Denial) -> bool {
    match denial {
        Denial::NotYetValid { .. } | Denial::Expired { .. } => error.starts_with("AA22"),
        _ => error == format!("AA23 reverted: {denial}"),
    }
}

fn observe(outcome: &HandleOpsOutcome) -> Observed {
    let gas_used = outcome.receipt.gas_used;
    if outcome.receipt.success {
        let executed = outcome.user_operation_events.first().is_some_and(|e| e.success);
        return Observed {
            outcome: if executed { Outcome::Accepted } else { Outcome::Rejected },
            gas_used,
            error: (!executed).then(|| "the operation was validated but its execution reverted".to_string()),
        };
    }
    let error = revert::describe_entry_point_error(&outcome.receipt.output)
        .unwrap_or_else(|| "the bundle transaction reverted".into());
    Observed { outcome: Outcome::Rejected, gas_used, error: Some(error) }
}

/// transfer(recipient, ≤ cap) on `token`, and plain ETH to the recipient up to `eth_cap` per call. The account
/// pays for gas, so the session's native budget (`maxValueTotal`, gas included) is 5 × `eth_cap` plus room for
/// the gas of its ten operations at the gas and fee caps.
fn demo_scope(token: Address, recipient: Address, token_cap: u128, eth_cap: u128, valid_until: u64) -> Scope {
    let transfer_policy = CallPolicy {
        target: token,
        selector: transferCall::SELECTOR.into(),
        flags: 0,
        maxValue: U256::ZERO,
        conditions: vec![
            ArgCondition {
                condition: condition::EQ,
                argType: arg_type::ADDRESS,
                argIndex: 0,
                values: vec![word(recipient.into_word())],
            },
            ArgCondition {
                condition: condition::LTE,
                argType: arg_type::uint(256),
                argIndex: 1,
                values: vec![word(U256::from(token_cap))],
            },
        ],
    };
    let eth_policy = CallPolicy {
        target: recipient,
        selector: Default::default(),
        flags: 0,
        maxValue: U256::from(eth_cap),
        conditions: vec![],
    };
    Scope {
        validAfter: Default::default(),
        validUntil: alloy::primitives::Uint::from(valid_until),
        maxUses: 10,
        maxValueTotal: U256::from(5 * eth_cap + 10 * GAS_CAP * FEE_CAP),
        paymaster: Address::ZERO,
        maxGasLimit: GAS_CAP,
        maxFeePerGas: FEE_CAP,
        calls: vec![transfer_policy, eth_policy],
        period: 0,
        periodStart: Default::default(),
        maxUsesPerPeriod: 0,
        limits: Vec::new(),
        gates: Vec::new(),
    }
}

#[allow(clippy::too_many_lines)] // one story, told in order
fn tell(demo: &mut Demo) -> Result<(), CliError> {
    // Temporary mode: the restore is signed before delegating. It is one type-4 transaction the EOA sends:
    // the zero-address authorization and `validator.revokeAll()`, so clearing the delegation also ends every
    // session. A relayer delegates, so the EOA's nonce moves only by the delegation's tuple: the restore is
    // the EOA's transaction at nonce + 1, and its self-sponsored tuple carries the nonce after that.
    let restore_nonce = demo.chain.nonce(demo.account()) + 1;
    let reset = eip7702::reset_authorization(
        demo.chain.chain_id(),
        eip7702::self_sponsored_tuple_nonce(restore_nonce),
    )?;
    let reset = eip7702::sign_authorization(&demo.owner, reset)?;

    let nonce = demo.chain.nonce(demo.account());
    let auth = demo.chain.sign_authorization(&demo.owner, demo.implementation, nonce)?;
    let observed = demo.relay_authorization(auth, demo.implementation)?;
    demo.record(
        "delegate_eoa",
        "The EOA signs an EIP-7702 authorization to WarrantAccount (and, up front, the reset authorization that \
         will restore it); a relayer's type-4 transaction installs the delegation.",
        Outcome::Accepted,
        observed,
    );

    let install = installModuleCall {
        moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
        module: demo.validator,
        initData: Bytes::new(),
    };
    let op = demo.owner_op(install.abi_encode().into())?;
    let observed = demo.bundle(&op)?;
    demo.record(
        "install_validator",
        "The owner's user operation installs WarrantValidator in the account (ERC-7579 validator module).",
        Outcome::Accepted,
        observed,
    );

    // Dynamic delegation: a grant for the session key, signed off-chain by the owner.
    let valid_until = demo.chain.timestamp() + GRANT_LIFETIME;
    let scope = demo_scope(demo.token, demo.recipient, 100 * ONE_TOKEN, ONE_ETH / 100, valid_until);
    let session = Session { signer: demo.session_key.address(), salt: B256::with_last_byte(1), scope };
    let epoch = demo
        .chain
        .call_sol(demo.validator, &IWarrantValidator::epochOfCall { account: demo.account() })?
        .to::<u64>();
    let grant = Grant { account: demo.account(), epoch, session: session.clone() };
    let owner_signature = demo.sign_grant(&grant)?;

    let transfer = |to: Address, tokens: u128| transferCall { to, amount: U256::from(tokens) }.abi_encode();
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, 10 * ONE_TOKEN));
    let signed = SignedGrant {
        chain_id: demo.chain.chain_id(),
        module: demo.validator,
        grant: grant.clone(),
        owner_signature: owner_signature.clone(),
        session_key: None,
    };
    let op = demo.session_enable_op(&signed, call)?;
    let before = demo.token_balance(demo.recipient)?;
    demo.session_step(
        (
            "enable_and_transfer",
            "The session key's first operation carries the owner's grant (transfer ≤ 100 tokens to one recipient, \
             ≤ 0.01 ETH per call to it, 1 hour, ≤ 10 uses): the module checks the owner's signature, enables the \
             session and sends 10 tokens, all in one operation.",
        ),
        Outcome::Accepted,
        &session,
        Presentation::Enable,
        op,
    )?;
    if demo.token_balance(demo.recipient)? != before + U256::from(10 * ONE_TOKEN) {
        demo.disagreements.push("enable_and_transfer: the recipient did not receive 10 tokens".into());
    }

    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, 5 * ONE_TOKEN));
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        ("transfer_in_scope", "The enabled session sends 5 more tokens: inside the scope."),
        Outcome::Accepted,
        &session,
        Presentation::Use,
        op,
    )?;

    let call = one(demo.other_token, U256::ZERO, &transfer(demo.recipient, ONE_TOKEN));
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        ("wrong_target", "The session tries the same transfer on another token contract."),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    let approve = approveCall { spender: demo.recipient, amount: U256::MAX }.abi_encode();
    let call = one(demo.token, U256::ZERO, &approve);
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        ("wrong_selector", "The session tries approve(recipient, max) on the allowed token."),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, 500 * ONE_TOKEN));
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        ("argument_over_limit", "The session tries to transfer 500 tokens, above the 100-token limit."),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    let call = one(demo.recipient, U256::from(ONE_ETH), &[]);
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        (
            "value_over_cap",
            "The session tries to send 1 ETH to the recipient; its policy allows 0.01 ETH per call.",
        ),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    let hijack = installModuleCall {
        moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
        module: demo.recipient,
        initData: Bytes::new(),
    };
    let call = one(demo.account(), U256::ZERO, &hijack.abi_encode());
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        (
            "self_call",
            "The session tries to make the account call itself to install a module of its choosing.",
        ),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    let call = vec![
        Call { target: demo.token, value: U256::ZERO, data: transfer(demo.recipient, ONE_TOKEN) },
        Call { target: demo.token, value: U256::ZERO, data: approve.clone() },
    ];
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        (
            "batch_smuggling",
            "The session hides approve(recipient, max) in a batch behind an allowed transfer; every call of a \
             batch must be permitted.",
        ),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    let now = demo.chain.timestamp();
    demo.chain.set_timestamp(valid_until + 1);
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, ONE_TOKEN));
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        (
            "after_expiry",
            "An hour later the grant has expired: the module returns its window in the validation data and the \
             EntryPoint refuses the operation.",
        ),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;
    // Back inside the window, so the next step shows revocation on its own.
    demo.chain.set_timestamp(now + 1);

    let id = session.id(demo.account());
    let revoke = IWarrantValidator::revokeSessionCall { id }.abi_encode();
    let op = demo.owner_op(exec_single(demo.validator, U256::ZERO, &revoke))?;
    let revoked = demo.bundle(&op)?;
    if revoked.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("revokeSession failed: {:?}", revoked.error));
    }
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, ONE_TOKEN));
    let op = demo.session_use_op(&session, call)?;
    demo.session_step(
        ("after_revoke", "The owner revokes the session on-chain; its next operation is refused."),
        Outcome::Rejected,
        &session,
        Presentation::Use,
        op,
    )?;

    // Static delegation: the owner enables a second session on-chain; no grant travels.
    let scope = demo_scope(demo.token, demo.recipient, 20 * ONE_TOKEN, ONE_ETH / 100, 0);
    let static_session = Session { signer: demo.session_key.address(), salt: B256::with_last_byte(2), scope };
    let enable = IWarrantValidator::enableSessionCall { session: static_session.clone() }.abi_encode();
    let op = demo.owner_op(exec_single(demo.validator, U256::ZERO, &enable))?;
    let enabled = demo.bundle(&op)?;
    if enabled.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("enableSession failed: {:?}", enabled.error));
    }
    let call = one(demo.recipient, U256::from(ONE_ETH / 100), &[]);
    let op = demo.session_use_op(&static_session, call)?;
    demo.session_step(
        (
            "static_session",
            "The owner enables a second session on-chain (static delegation); it sends 0.01 ETH to the recipient.",
        ),
        Outcome::Accepted,
        &static_session,
        Presentation::Use,
        op,
    )?;

    // Spend limits over time: a third session may send the token to the recipient, at most 30 tokens a day.
    let mut scope = demo_scope(demo.token, demo.recipient, 1000 * ONE_TOKEN, 0, 0);
    scope.period = DAY;
    scope.periodStart = alloy::primitives::Uint::from(demo.chain.timestamp());
    scope.limits = vec![SpendLimit { token: demo.token, perPeriod: 30 * ONE_TOKEN, lifetime: NO_CAP }];
    let daily = Session { signer: demo.session_key.address(), salt: B256::with_last_byte(3), scope };
    let enable = IWarrantValidator::enableSessionCall { session: daily.clone() }.abi_encode();
    let op = demo.owner_op(exec_single(demo.validator, U256::ZERO, &enable))?;
    let enabled = demo.bundle(&op)?;
    if enabled.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("enableSession (daily limit) failed: {:?}", enabled.error));
    }
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, 20 * ONE_TOKEN));
    let op = demo.session_use_op(&daily, call)?;
    let spent = demo.bundle(&op)?;
    if spent.outcome != Outcome::Accepted {
        demo.disagreements
            .push(format!("the first 20 tokens of the daily session failed: {:?}", spent.error));
    }
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, 15 * ONE_TOKEN));
    let op = demo.session_use_op(&daily, call)?;
    demo.session_step(
        (
            "spend_over_period_limit",
            "The owner enables a session limited to 30 tokens a day (the operation names its day in what the \
             session key signs); it has sent 20 today and now tries 15 more.",
        ),
        Outcome::Rejected,
        &daily,
        Presentation::Use,
        op,
    )?;

    demo.chain.advance_time(u64::from(DAY));
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, 15 * ONE_TOKEN));
    let op = demo.session_use_op(&daily, call)?;
    demo.session_step(
        (
            "spend_after_refill",
            "A day later the next period has begun and its limit is fresh: the same 15 tokens go through.",
        ),
        Outcome::Accepted,
        &daily,
        Presentation::Use,
        op,
    )?;

    session_pass(demo)?;

    let epoch_before = demo.epoch()?;
    let observed = demo.restore(reset, restore_nonce)?;
    let observed = if observed.outcome == Outcome::Accepted && !demo.chain.code(demo.account()).is_empty() {
        Observed { outcome: Outcome::Rejected, error: Some("the account still has code".into()), ..observed }
    } else if observed.outcome == Outcome::Accepted && demo.epoch()? == epoch_before {
        Observed {
            outcome: Outcome::Rejected,
            error: Some("the validator's epoch did not move".into()),
            ..observed
        }
    } else {
        observed
    };
    demo.record(
        "restore_eoa",
        "The restore signed at the start is broadcast: one EOA transaction clears the delegation and calls the \
         validator's revokeAll, so the account is a plain EOA again, its tokens and ETH where they were, and \
         every session it granted has ended.",
        Outcome::Accepted,
        observed,
    );

    // Delegating again does not revive the old sessions: they belong to the epoch the restore ended.
    let nonce = demo.chain.nonce(demo.account());
    let auth = demo.chain.sign_authorization(&demo.owner, demo.implementation, nonce)?;
    let again = demo.relay_authorization(auth, demo.implementation)?;
    if again.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("delegating again failed: {:?}", again.error));
    }
    let call = one(demo.token, U256::ZERO, &transfer(demo.recipient, ONE_TOKEN));
    let op = demo.session_use_op(&daily, call)?;
    demo.session_step(
        (
            "old_session_after_restore",
            "The EOA delegates to WarrantAccount again (its storage, with the validator installed, survived); \
             the daily session from before the restore tries a transfer and is refused.",
        ),
        Outcome::Rejected,
        &daily,
        Presentation::Use,
        op,
    )?;
    Ok(())
}

/// A session gated on an ERC-721 "session pass": the owner suspends it by moving the pass to another wallet
/// and resumes it by moving the pass back (docs/gating.md).
fn session_pass(demo: &mut Demo) -> Result<(), CliError> {
    let mut scope = demo_scope(demo.token, demo.recipient, 1000 * ONE_TOKEN, 0, 0);
    scope.gates = vec![Gate {
        token: demo.pass,
        kind: gate_kind::ERC721,
        tokenId: U256::ZERO,
        minBalance: U256::from(1),
    }];
    let gated = Session { signer: demo.session_key.address(), salt: B256::with_last_byte(4), scope };
    let enable = IWarrantValidator::enableSessionCall { session: gated.clone() }.abi_encode();
    let op = demo.owner_op(exec_single(demo.validator, U256::ZERO, &enable))?;
    let enabled = demo.bundle(&op)?;
    if enabled.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("enableSession (gated) failed: {:?}", enabled.error));
    }
    let recipient = demo.recipient;
    let transfer = |tokens: u128| transferCall { to: recipient, amount: U256::from(tokens) }.abi_encode();
    let op = demo.session_use_op(&gated, one(demo.token, U256::ZERO, &transfer(ONE_TOKEN)))?;
    let first = demo.bundle(&op)?;
    if first.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("the gated session's first transfer failed: {:?}", first.error));
    }

    // The owner moves the pass to another wallet of theirs: every session gated on it stops.
    // The owner's other wallet: a plain key with ETH for gas.
    let vault = PrivateKeySigner::random().address();
    demo.chain.set_balance(vault, U256::from(ONE_ETH));
    let away =
        transferFromCall { from: demo.account(), to: vault, tokenId: U256::from(PASS_ID) }.abi_encode();
    let op = demo.owner_op(exec_single(demo.pass, U256::ZERO, &away))?;
    let moved = demo.bundle(&op)?;
    if moved.outcome != Outcome::Accepted {
        demo.disagreements.push(format!("moving the pass away failed: {:?}", moved.error));
    }
    let op = demo.session_use_op(&gated, one(demo.token, U256::ZERO, &transfer(ONE_TOKEN)))?;
    demo.session_step(
        (
            "session_pass_moved_out",
            "The owner enables a session that works only while the account holds a \"session pass\" NFT, uses it \
             once, then moves the pass to another wallet: the next operation is refused.",
        ),
        Outcome::Rejected,
        &gated,
        Presentation::Use,
        op,
    )?;

    // Back by a safe transfer (the account accepts ERC-721s): the session resumes, nothing re-signed.
    let back =
        safeTransferFromCall { from: vault, to: demo.account(), tokenId: U256::from(PASS_ID) }.abi_encode();
    let r = demo.chain.transact(TxRequest {
        from: vault,
        to: Some(demo.pass),
        data: back.into(),
        ..Default::default()
    })?;
    if !r.success {
        demo.disagreements.push("moving the pass back failed".into());
    }
    let op = demo.session_use_op(&gated, one(demo.token, U256::ZERO, &transfer(ONE_TOKEN)))?;
    demo.session_step(
        (
            "session_pass_back",
            "The pass comes back to the account: the same session acts again, with nothing re-signed.",
        ),
        Outcome::Accepted,
        &gated,
        Presentation::Use,
        op,
    )
}

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode, CliError> {
    let mut demo = Demo::new()?;
    tell(&mut demo)?;

    let all_as_expected = demo.steps.iter().all(|s| s.outcome == s.expected) && demo.disagreements.is_empty();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Report { steps: demo.steps })?);
    } else {
        println!(
            "Warrant demo on an in-process chain (revm, chain id {}), EntryPoint v0.8 at {ENTRY_POINT_V08}",
            demo.chain.chain_id()
        );
        println!(
            "account (EIP-7702 EOA) {}, session key {}, WarrantValidator {}\n",
            demo.account(),
            demo.session_key.address(),
            demo.validator
        );
        for (i, step) in demo.steps.iter().enumerate() {
            let mark = if step.outcome == step.expected { "ok  " } else { "FAIL" };
            println!("{mark} {:>2}. {} — {}", i + 1, step.name, step.story);
            if let Some(preflight) = &step.preflight {
                println!("         pre-flight: {preflight}");
            }
            let verdict = match step.outcome {
                Outcome::Accepted => "accepted".to_string(),
                Outcome::Rejected => format!("rejected: {}", step.error.as_deref().unwrap_or("?")),
            };
            println!("         chain:      {verdict}; {} gas\n", step.gas_used);
        }
        for d in &demo.disagreements {
            println!("DISAGREEMENT {d}");
        }
        println!(
            "{}",
            if all_as_expected {
                "Every step ended as expected, and the pre-flight named the same rule as the chain each time."
            } else {
                "Some steps did NOT end as expected."
            }
        );
    }
    if args.json && !demo.disagreements.is_empty() {
        for d in &demo.disagreements {
            eprintln!("disagreement: {d}");
        }
    }
    Ok(if all_as_expected { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
