//! The commands that talk to a network: `warrant send` (a session operation through a bundler), `warrant revoke`
//! (an owner operation), `warrant delegate` / `warrant undelegate` (EIP-7702 type-4 transactions).
//!
//! Flags follow Foundry's `cast`: `--rpc-url` / `ETH_RPC_URL`; the bundler is `--bundler-url` /
//! `WARRANT_BUNDLER_URL`. Every operation is checked by Warrant's pre-flight before it is signed; a refusal names
//! the on-chain rule and exits 1 (`--force` sends anyway, for testing the chain's own refusal).

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::Decodable2718,
    network::{EthereumWallet, TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U128, U256, aliases::U192},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{
        TransactionRequest,
        state::{AccountOverride, StateOverride},
    },
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
    transports::http::reqwest::Url,
};
use warrant_chain::{
    ChainError,
    bundler::{self, BundlerClient, UserOperationReceipt},
};
use warrant_core::{
    IEntryPoint, UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    eip7702::{self, ChainScope, RestoreTx},
    grant::{self, IWarrantValidator},
    policy::{self, Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage},
    session_op::{GasFields, MODE_BATCH, SessionOp, execute_batch, execute_single},
    token::SignedGrant,
};

use crate::{
    CliError,
    inspect::{self, load_grant},
    keys::SignerArgs,
};

sol! {
    function accountId() external view returns (string);
    function installModule(uint256 moduleTypeId, address module, bytes initData);
    function isModuleInstalled(uint256 moduleTypeId, address module, bytes additionalContext)
        external view returns (bool);
}

/// ERC-7579 module type of a validator.
const MODULE_TYPE_VALIDATOR: u64 = 1;

/// Which account implementation the account runs, for the parts that differ (nonce key, owner operations).
#[derive(Debug, clap::Args)]
pub(crate) struct AccountKindArgs {
    /// The account's implementation: warrant, nexus or kernel. Default: detected from its `accountId()`.
    #[arg(long, value_parser = crate::grant::parse_account_kind)]
    account_kind: Option<AccountKind>,
    /// The account's validator that holds the owner's key (owner operations on nexus).
    #[arg(long, value_parser = crate::scope_spec::parse_address)]
    owner_validator: Option<Address>,
}

impl AccountKindArgs {
    /// The kind given, or the one the account's `accountId()` names.
    async fn kind(&self, net: &Net, account: Address) -> Result<AccountKind, CliError> {
        if let Some(kind) = self.account_kind {
            return Ok(kind);
        }
        let id = net.view(account, accountIdCall {}).await.map_err(|e| {
            CliError::InvalidInput(format!(
                "can't tell which account implementation {account} runs (accountId() failed: {e}); pass \
                 --account-kind"
            ))
        })?;
        Ok(AccountKind::from_account_id(&id)?)
    }
}

/// How long `send` waits for an operation's receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the node and the bundler are.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NetArgs {
    /// JSON-RPC URL of a node.
    #[arg(long, env = "ETH_RPC_URL")]
    rpc_url: Url,
    /// JSON-RPC URL of an ERC-4337 bundler serving EntryPoint v0.8.
    #[arg(long, env = "WARRANT_BUNDLER_URL")]
    bundler_url: Option<Url>,
    /// Seconds one request to the node or the bundler may take before the command gives up (as cast's).
    #[arg(long, env = "ETH_RPC_TIMEOUT", default_value_t = 45, value_parser = clap::value_parser!(u64).range(1..))]
    rpc_timeout: u64,
}

/// Gas settings of a user operation.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GasArgs {
    /// Multiply the bundler's verificationGasLimit estimate by this (unused verification gas is not charged; it
    /// only raises the prefund). The default covers anvil's tracer, which under-reports a returned call's gas.
    #[arg(long, default_value_t = 3)]
    verification_gas_headroom: u64,
}

/// A node and, if given, a bundler.
struct Net {
    provider: DynProvider,
    bundler: Option<BundlerClient>,
    chain_id: u64,
}

/// How long a request to the node may take (set once from `--rpc-timeout` by [`Net::connect`]).
static RPC_TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

fn node_error(method: &str, e: impl std::error::Error + 'static) -> CliError {
    let timeout = RPC_TIMEOUT.get().copied().unwrap_or(bundler::DEFAULT_RPC_TIMEOUT);
    CliError::Chain(bundler::transport_error(method, &e, timeout))
}

fn node_fault(method: &str, reason: impl std::fmt::Display) -> CliError {
    CliError::Chain(ChainError::Transport { method: method.into(), reason: reason.to_string() })
}

impl Net {
    async fn connect(args: &NetArgs, wallet: Option<&PrivateKeySigner>) -> Result<Self, CliError> {
        let timeout = Duration::from_secs(args.rpc_timeout);
        let _ = RPC_TIMEOUT.set(timeout);
        let client = bundler::http_client(args.rpc_url.clone(), timeout)?;
        let provider = match wallet {
            Some(signer) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer.clone()))
                .connect_client(client)
                .erased(),
            None => ProviderBuilder::new().connect_client(client).erased(),
        };
        let chain_id = provider.get_chain_id().await.map_err(|e| node_error("eth_chainId", e))?;
        let bundler = args
            .bundler_url
            .clone()
            .map(|url| BundlerClient::with_timeout(url, ENTRY_POINT_V08, timeout))
            .transpose()?;
        if let Some(bundler) = &bundler {
            let bundler_chain = bundler.chain_id().await?;
            if bundler_chain != chain_id {
                return Err(CliError::InvalidInput(format!(
                    "the bundler serves chain {bundler_chain}, the node chain {chain_id}"
                )));
            }
        }
        Ok(Self { provider, bundler, chain_id })
    }

    fn bundler(&self) -> Result<&BundlerClient, CliError> {
        self.bundler.as_ref().ok_or_else(|| {
            CliError::InvalidInput("no bundler: pass --bundler-url (or WARRANT_BUNDLER_URL)".into())
        })
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, CliError> {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.provider.call(tx).await.map_err(|e| node_error("eth_call", e))?;
        C::abi_decode_returns(&out)
            .map_err(|e| node_fault("eth_call", format!("undecodable answer from {to}: {e}")))
    }

    async fn code(&self, account: Address) -> Result<Bytes, CliError> {
        self.provider.get_code_at(account).await.map_err(|e| node_error("eth_getCode", e))
    }

    async fn now(&self) -> Result<u64, CliError> {
        let block = self
            .provider
            .get_block_by_number(Default::default())
            .await
            .map_err(|e| node_error("eth_getBlockByNumber", e))?
            .ok_or_else(|| node_fault("eth_getBlockByNumber", "no latest block"))?;
        Ok(block.header.timestamp)
    }

    async fn entry_point_nonce(&self, sender: Address, key: U192) -> Result<U256, CliError> {
        self.view(ENTRY_POINT_V08, IEntryPoint::getNonceCall { sender, key }).await
    }

    /// Fees from the bundler (Pimlico's method) when it has one, else the node's EIP-1559 estimate.
    async fn fees(&self) -> Result<(U128, U128), CliError> {
        if let Ok(price) = self.bundler()?.user_operation_gas_price().await {
            return Ok((price.max_fee_per_gas, price.max_priority_fee_per_gas));
        }
        let fees =
            self.provider.estimate_eip1559_fees().await.map_err(|e| node_error("eth_feeHistory", e))?;
        Ok((U128::from(fees.max_fee_per_gas), U128::from(fees.max_priority_fee_per_gas)))
    }

    /// Sends a type-4 transaction signed by the provider's wallet and waits for it.
    async fn send_tx(
        &self,
        tx: TransactionRequest,
    ) -> Result<alloy::rpc::types::TransactionReceipt, CliError> {
        let pending =
            self.provider.send_transaction(tx).await.map_err(|e| node_error("eth_sendTransaction", e))?;
        pending
            .with_timeout(Some(Duration::from_secs(60)))
            .get_receipt()
            .await
            .map_err(|e| node_error("eth_getTransactionReceipt", e))
    }
}

/// A spinner on stderr while waiting, when stderr is a terminal.
fn spinner(message: String) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

/// Signs, asks the bundler for gas, applies it (with headroom) and signs again; `sign` returns the signature
/// for a hash.
async fn prepare(
    net: &Net,
    mut op: UserOperation,
    gas: &GasArgs,
    sign: impl Fn(&UserOperation) -> Result<Bytes, CliError>,
) -> Result<UserOperation, CliError> {
    op.signature = sign(&op)?;
    let estimate = net.bundler()?.estimate_user_operation_gas(&op).await?;
    estimate.apply(&mut op);
    op.verification_gas_limit =
        op.verification_gas_limit.saturating_mul(U128::from(gas.verification_gas_headroom));
    op.signature = sign(&op)?;
    Ok(op)
}

async fn submit(net: &Net, op: &UserOperation) -> Result<UserOperationReceipt, CliError> {
    let bundler = net.bundler()?;
    let hash = bundler.send_user_operation(op).await.map_err(bundler_refusal)?;
    let bar = spinner(format!("user operation {hash} sent; waiting for its receipt"));
    let receipt = bundler.wait_for_receipt(hash, RECEIPT_TIMEOUT).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(receipt?)
}

/// A bundler's refusal, with Warrant's rule named when the validator reverted with one.
fn bundler_refusal(e: ChainError) -> CliError {
    match &e {
        ChainError::Bundler(refusal) => match refusal.warrant_rule_name() {
            Some(rule) => CliError::Refused(format!("the bundler refused the operation: {rule} ({refusal})")),
            None => CliError::Refused(format!("the bundler refused the operation: {refusal}")),
        },
        _ => CliError::Chain(e),
    }
}

fn print_receipt(receipt: &UserOperationReceipt, json: bool) -> Result<(), CliError> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "userOpHash": receipt.user_op_hash,
                "success": receipt.success,
                "transactionHash": receipt.receipt.transaction_hash,
                "blockNumber": receipt.receipt.block_number,
                "actualGasUsed": receipt.actual_gas_used,
                "actualGasCost": receipt.actual_gas_cost,
            }))?
        );
    } else {
        println!(
            "{} user operation {} in transaction {} (block {}), {} gas charged",
            if receipt.success { "included" } else { "REVERTED in execution:" },
            receipt.user_op_hash,
            receipt.receipt.transaction_hash,
            receipt.receipt.block_number.unwrap_or_default(),
            receipt.actual_gas_used
        );
    }
    Ok(())
}

/// A read-only provider for `url` with the default request timeout (for commands without [`NetArgs`]).
pub(crate) fn provider(url: Url) -> Result<DynProvider, CliError> {
    let client = bundler::http_client(url, bundler::DEFAULT_RPC_TIMEOUT)?;
    Ok(ProviderBuilder::new().connect_client(client).erased())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::InvalidInput(format!("cannot start the async runtime: {e}")))
}

// ------------------------------------------------------------------------------------------------- send

/// Arguments of `warrant send`.
#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    call: inspect::GrantCallArgs,
    /// Send even if the pre-flight denies it (to see the bundler or chain refuse it; for testing).
    #[arg(long)]
    force: bool,
    /// The session key.
    #[command(flatten)]
    session_key: SignerArgs,
    #[command(flatten)]
    account: AccountKindArgs,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    gas: GasArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn send(args: &SendArgs) -> Result<ExitCode, CliError> {
    let (signed, call) = args.call.load()?;
    let key = args.session_key.signer("session")?;
    if key.address() != signed.grant.session.signer {
        return Err(CliError::InvalidInput(format!(
            "the grant's session key is {}, not {}",
            signed.grant.session.signer,
            key.address()
        )));
    }
    runtime()?.block_on(send_async(args, &signed, &key, call))
}

async fn send_async(
    args: &SendArgs,
    signed: &SignedGrant,
    key: &PrivateKeySigner,
    call: Call,
) -> Result<ExitCode, CliError> {
    let net = Net::connect(&args.net, None).await?;
    let account = signed.grant.account;
    let module = signed.module;
    if net.chain_id != signed.chain_id {
        return Err(CliError::InvalidInput(format!(
            "the grant is for chain {}, the node is chain {}",
            signed.chain_id, net.chain_id
        )));
    }
    let scope = &signed.grant.session.scope;
    if scope.paymaster != Address::ZERO {
        return Err(CliError::InvalidInput(format!(
            "the grant requires paymaster {}; warrant send does not negotiate paymaster data yet",
            scope.paymaster
        )));
    }
    let id = signed.session_id();
    let usage = read_usage(&net, module, account, id, scope.limits.len()).await?;
    // What the account holds of each gate's token, read as the validator will (from the module).
    let holdings = warrant_chain::gate::read_holdings(&net.provider, scope, account, module).await?;
    let status = usage.status;
    let presentation = if status == SessionStatus::None { Presentation::Enable } else { Presentation::Use };
    if presentation == Presentation::Enable {
        let epoch = net.view(module, IWarrantValidator::epochOfCall { account }).await?;
        if epoch != U256::from(signed.grant.epoch) {
            let denial = Denial::GrantEpochStale { grant_epoch: signed.grant.epoch, current_epoch: epoch };
            return Err(CliError::Refused(denial.to_string()));
        }
    }

    // A scope with periods: the op names the current period in its module signature (signed by the session
    // key); the nonce key suffix stays 0, so the EntryPoint nonce sequence is one per session key and module.
    let now = net.now().await?;
    let period = policy::current_period(scope, now).unwrap_or(0);
    // The nonce key names the validator the way this account's implementation reads it.
    let account_kind = args.account.kind(&net, account).await?;
    let sequence = net.entry_point_nonce(account, account_kind.nonce_key(module, 0)?).await?;
    let (max_fee, max_priority) = net.fees().await?;
    let builder = SessionOp {
        account,
        module,
        chain_id: net.chain_id,
        account_kind,
        calls: vec![call],
        gas: GasFields {
            // What the bundler simulates with is its own; these only have to be plausible.
            call_gas_limit: 500_000,
            verification_gas_limit: 1_000_000,
            pre_verification_gas: 100_000,
            max_fee_per_gas: max_fee.to(),
            max_priority_fee_per_gas: max_priority.to(),
            paymaster: None,
        },
        key_suffix: 0,
        period,
        // getNonce returns key ‖ sequence; the builder takes the sequence (low 64 bits).
        sequence: (sequence & U256::from(u64::MAX)).to::<u64>(),
        // An already delegated EOA sends without the 0x7702 marker (see docs/e2e.md).
        eip7702: None,
    };
    let check = |op: &UserOperation, signature_valid: bool| {
        let packed = op.pack();
        policy::check_operation(&OpCheck {
            session_id: id,
            scope,
            usage: &usage,
            presentation,
            op: &packed,
            account,
            module,
            period,
            signature_valid,
            holdings: &holdings,
        })
        .and_then(|debit| policy::check_op_time(&debit, now).map(|()| debit))
    };
    let deny = |denial: &Denial| -> Option<ExitCode> {
        if args.force {
            eprintln!("pre-flight: denied — {denial}; sending anyway (--force)");
            None
        } else {
            eprintln!("pre-flight: denied — {denial}");
            Some(ExitCode::from(1))
        }
    };

    // 1. The estimation operation: a dummy session signature that can't recover to the session key. The
    //    validator then skips the gas and fee caps (rule C.4) while every other rule runs, so the bundler can
    //    simulate with its own large limits; the EntryPoint would refuse this op (signature failure) if sent.
    let dummy = dummy_signature(&builder, presentation, signed)?;
    let mut estimation_op = builder.unsigned()?;
    estimation_op.signature = dummy;
    if let Err(denial) = check(&estimation_op, false)
        && let Some(code) = deny(&denial)
    {
        return Ok(code);
    }
    let estimate = net.bundler()?.estimate_user_operation_gas(&estimation_op).await;

    // 2. Limits from the estimate, clamped to the session's caps; then the pre-flight of the final op.
    let mut gas = builder.gas.clone();
    let fitted = match &estimate {
        Ok(estimate) => fit_gas(&mut gas, estimate, scope, args.gas.verification_gas_headroom),
        Err(_) => Ok(()),
    };
    let mut final_builder = builder.clone();
    final_builder.gas = gas;
    let final_op = final_builder.unsigned()?;
    let verdict = fitted.and_then(|()| check(&final_op, true).map(|_| ()));
    if let Err(denial) = &verdict
        && let Some(code) = deny(denial)
    {
        return Ok(code);
    }
    if let Err(e) = estimate
        && !args.force
    {
        return Err(bundler_refusal(e));
    }

    // 3. Sign for real and send.
    let signed_op = match presentation {
        Presentation::Enable => final_builder.sign_enable(signed, key)?,
        Presentation::Use => final_builder.sign_use(&signed.grant.session, key)?,
    };
    let receipt = submit(&net, &signed_op.op).await?;
    print_receipt(&receipt, args.json)?;
    Ok(if receipt.success { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A module signature for estimation: the layout of the real one (same length, so the same calldata gas),
/// with a well-formed session signature by a throwaway key (so `ecrecover` runs and costs what it will), which
/// therefore recovers to another address than the session key.
fn dummy_signature(
    builder: &SessionOp,
    presentation: Presentation,
    signed: &SignedGrant,
) -> Result<Bytes, CliError> {
    let throwaway = loop {
        let k = PrivateKeySigner::random();
        if k.address() != signed.grant.session.signer {
            break k;
        }
    };
    let op = builder.unsigned()?;
    let hash = builder.hash(&op)?;
    let id = signed.session_id();
    let sign = |digest: B256| -> Result<Vec<u8>, CliError> {
        Ok(throwaway
            .sign_hash_sync(&digest)
            .map_err(|e| CliError::Signing(e.to_string()))?
            .as_bytes()
            .to_vec())
    };
    Ok(match presentation {
        Presentation::Use => {
            let sig = sign(grant::use_digest(hash, id, builder.period))?;
            grant::use_signature(&signed.grant.session, builder.period, &sig)
        }
        Presentation::Enable => {
            let grant_digest = signed.grant.digest(builder.module, builder.chain_id);
            let sig = sign(grant::enable_digest(hash, id, builder.period, grant_digest))?;
            grant::enable_signature(&signed.grant, builder.period, &signed.owner_signature, &sig)
        }
    })
}

/// Sets `gas` from the bundler's estimate: verification gas with headroom (anvil's tracer under-reports a
/// returned call's gas, see docs/e2e.md), clamped so the sum stays within the session's `maxGasLimit`, and the
/// fee clamped to its `maxFeePerGas`. `GasLimitExceeded` when even the bare estimate does not fit.
fn fit_gas(
    gas: &mut GasFields,
    estimate: &bundler::UserOperationGasEstimate,
    scope: &warrant_core::grant::Scope,
    headroom: u64,
) -> Result<(), Denial> {
    let sat = |v: U256| u128::try_from(v).unwrap_or(u128::MAX);
    let verification = sat(estimate.verification_gas_limit);
    gas.call_gas_limit = sat(estimate.call_gas_limit);
    gas.pre_verification_gas = sat(estimate.pre_verification_gas);
    gas.verification_gas_limit = verification.saturating_mul(u128::from(headroom.max(1)));
    if scope.maxGasLimit != 0 {
        let cap = scope.maxGasLimit;
        let others = gas.call_gas_limit.saturating_add(gas.pre_verification_gas);
        let bare = others.saturating_add(verification);
        if bare > cap {
            return Err(Denial::GasLimitExceeded { total: U256::from(bare), cap: U256::from(cap) });
        }
        gas.verification_gas_limit = gas.verification_gas_limit.min(cap - others);
    }
    if scope.maxFeePerGas != 0 {
        gas.max_fee_per_gas = gas.max_fee_per_gas.min(scope.maxFeePerGas);
        gas.max_priority_fee_per_gas = gas.max_priority_fee_per_gas.min(gas.max_fee_per_gas);
    }
    Ok(())
}

/// What the validator has counted for session `id` of `account`: state, period and every spend limit.
async fn read_usage(
    net: &Net,
    module: Address,
    account: Address,
    id: B256,
    limits: usize,
) -> Result<SessionUsage, CliError> {
    let state = net.view(module, IWarrantValidator::sessionStateCall { account, id }).await?;
    let period = net.view(module, IWarrantValidator::periodStateCall { account, id }).await?;
    let mut spends = Vec::with_capacity(limits);
    for i in 0..limits {
        spends.push(
            net.view(module, IWarrantValidator::spendStateCall { account, id, limitIndex: U256::from(i) })
                .await?,
        );
    }
    SessionUsage::from_views(&state, &period, &spends)
        .ok_or_else(|| node_fault("sessionState", format!("unknown session status {}", state.status)))
}

// ----------------------------------------------------------------------------------------------- status

/// Arguments of `warrant status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The grant: a `warrant1…` token, its JSON, or a file holding either.
    grant: String,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn status(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let signed = load_grant(&args.grant)?;
    runtime()?.block_on(async {
        let net = Net::connect(&args.net, None).await?;
        if net.chain_id != signed.chain_id {
            return Err(CliError::InvalidInput(format!(
                "the grant is for chain {}, the node is chain {}",
                signed.chain_id, net.chain_id
            )));
        }
        let (account, module, id) = (signed.grant.account, signed.module, signed.session_id());
        let scope = &signed.grant.session.scope;
        let usage = read_usage(&net, module, account, id, scope.limits.len()).await?;
        let epoch = net.view(module, IWarrantValidator::epochOfCall { account }).await?;
        let holdings = warrant_chain::gate::read_holdings(&net.provider, scope, account, module).await?;
        let now = net.now().await?;
        let state = match usage.status {
            SessionStatus::Revoked => "revoked",
            _ if epoch != U256::from(signed.grant.epoch) => "revoked (the account moved to a new epoch)",
            SessionStatus::Enabled => "enabled",
            SessionStatus::None => "not yet enabled (the first operation presents the grant)",
        };
        let limits: Vec<_> = (0..scope.limits.len())
            .filter_map(|i| {
                let counters = usage.limits.get(i).copied().unwrap_or_default();
                policy::spend_status(scope, i, &counters, now)
            })
            .collect();
        let period = policy::current_period(scope, now);
        let uses_in_period = match period {
            Some(k) if k == usage.period_index => usage.uses_in_period,
            _ => 0,
        };
        if args.json {
            let limits: Vec<_> = limits
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "token": l.token,
                        "remainingInPeriod": l.remaining_in_period.map(|v| v.to_string()),
                        "remainingLifetime": l.remaining_lifetime.map(|v| v.to_string()),
                        "refillsAt": l.refills_at,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "sessionId": id,
                    "status": state,
                    "uses": usage.uses,
                    "maxUses": scope.maxUses,
                    "valueSpent": usage.value_spent.to_string(),
                    "period": period,
                    "usesInPeriod": uses_in_period,
                    "maxUsesPerPeriod": scope.maxUsesPerPeriod,
                    "limits": limits,
                    "gates": scope.gates.iter().zip(&holdings).map(|(g, h)| serde_json::json!({
                        "token": g.token,
                        "kind": warrant_core::grant::gate_kind::name(g.kind),
                        "tokenId": g.tokenId.to_string(),
                        "minBalance": g.minBalance.to_string(),
                        "held": h.map(|v| v.to_string()),
                        "open": h.is_some_and(|v| v >= g.minBalance),
                    })).collect::<Vec<_>>(),
                    "now": now,
                }))?
            );
        } else {
            println!("session {id}: {state}");
            if scope.maxUses != 0 {
                println!("uses          {} of {}", usage.uses, scope.maxUses);
            }
            println!("ETH sent      {} wei (lifetime cap {})", usage.value_spent, scope.maxValueTotal);
            if let Some(k) = period {
                let end = policy::period_bounds(scope, k).map(|(_, end)| end).unwrap_or_default();
                println!("period        {k}, refills at {}", warrant_core::explain::format_utc(end));
                if scope.maxUsesPerPeriod != 0 {
                    println!("uses          {uses_in_period} of {} this period", scope.maxUsesPerPeriod);
                }
            }
            for l in &limits {
                let asset =
                    if l.token == Address::ZERO { "ETH (wei)".to_string() } else { l.token.to_string() };
                let show = |v: Option<u128>| v.map_or_else(|| "no cap".to_string(), |v| v.to_string());
                println!(
                    "limit {asset}: {} left this period, {} left over the session",
                    show(l.remaining_in_period),
                    show(l.remaining_lifetime)
                );
            }
            for (i, (g, h)) in scope.gates.iter().zip(&holdings).enumerate() {
                let held = h.map_or_else(
                    || "unreadable (the token does not answer balanceOf)".into(),
                    |v| v.to_string(),
                );
                let verdict =
                    if h.is_some_and(|v| v >= g.minBalance) { "open" } else { "CLOSED: ops are refused" };
                println!(
                    "gate {i}       {} {}{}: holds {held}, needs {}: {verdict}",
                    warrant_core::grant::gate_kind::name(g.kind).unwrap_or("?"),
                    g.token,
                    if g.kind == warrant_core::grant::gate_kind::ERC1155 {
                        format!(" id {}", g.tokenId)
                    } else {
                        String::new()
                    },
                    g.minBalance
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

// ----------------------------------------------------------------------------------------------- revoke

/// Arguments of `warrant revoke`.
#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    /// The grant whose session to revoke (token, JSON or file); or use --session-id / --all.
    #[arg(conflicts_with_all = ["session_id", "all"])]
    grant: Option<String>,
    /// The session id to revoke (works for grants not yet presented too).
    #[arg(long, conflicts_with = "all")]
    session_id: Option<B256>,
    /// Revoke every session and every unpresented grant of the account (bumps its epoch).
    #[arg(long)]
    all: bool,
    /// The account (taken from the grant when one is given).
    #[arg(long)]
    account: Option<Address>,
    /// The WarrantValidator module (taken from the grant when one is given).
    #[arg(long)]
    module: Option<Address>,
    /// The owner's key.
    #[command(flatten)]
    owner: SignerArgs,
    #[command(flatten)]
    account_kind: AccountKindArgs,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    gas: GasArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn revoke(args: &RevokeArgs) -> Result<ExitCode, CliError> {
    let signed = args.grant.as_deref().map(load_grant).transpose()?;
    let account = signed
        .as_ref()
        .map(|s| s.grant.account)
        .or(args.account)
        .ok_or_else(|| CliError::InvalidInput("which account? pass a grant or --account".into()))?;
    let module = signed
        .as_ref()
        .map(|s| s.module)
        .or(args.module)
        .ok_or_else(|| CliError::InvalidInput("which module? pass a grant or --module".into()))?;
    let call = match (&signed, args.session_id, args.all) {
        (Some(signed), _, _) => IWarrantValidator::revokeSessionCall { id: signed.session_id() }.abi_encode(),
        (None, Some(id), _) => IWarrantValidator::revokeSessionCall { id }.abi_encode(),
        (None, None, true) => IWarrantValidator::revokeAllCall {}.abi_encode(),
        (None, None, false) => {
            return Err(CliError::InvalidInput("what to revoke? pass a grant, --session-id or --all".into()));
        }
    };
    let owner = args.owner.signer("owner")?;
    runtime()?.block_on(async {
        let net = Net::connect(&args.net, None).await?;
        let call_data = execute_single(&Call { target: module, value: U256::ZERO, data: call });
        let kind = args.account_kind.kind(&net, account).await?;
        let key = kind.adapter().owner_nonce_key(args.account_kind.owner_validator)?;
        let receipt = owner_op(&net, account, key, &owner, call_data, &args.gas).await?;
        print_receipt(&receipt, args.json)?;
        Ok(if receipt.success { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// An owner-signed operation of the account under nonce `key` (the owner's ECDSA signature of the hash; key 0 on
/// WarrantAccount and Kernel, the owner validator's key on Nexus).
async fn owner_op(
    net: &Net,
    account: Address,
    key: U192,
    owner: &PrivateKeySigner,
    call_data: Bytes,
    gas: &GasArgs,
) -> Result<UserOperationReceipt, CliError> {
    let (max_fee, max_priority) = net.fees().await?;
    let op = UserOperation {
        sender: account,
        nonce: net.entry_point_nonce(account, key).await?,
        call_data,
        call_gas_limit: U128::from(500_000),
        verification_gas_limit: U128::from(1_000_000),
        pre_verification_gas: U256::from(100_000),
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: max_priority,
        ..Default::default()
    };
    let chain_id = net.chain_id;
    let sign = |op: &UserOperation| -> Result<Bytes, CliError> {
        let hash = op.hash(ENTRY_POINT_V08, chain_id, None)?;
        Ok(owner.sign_hash_sync(&hash).map_err(|e| CliError::Signing(e.to_string()))?.as_bytes().into())
    };
    let op = prepare(net, op, gas, sign).await?;
    submit(net, &op).await
}

// ------------------------------------------------------------------------------------- delegate, undelegate

/// Arguments of `warrant delegate`.
#[derive(Debug, clap::Args)]
pub(crate) struct DelegateArgs {
    /// The contract the EOA delegates to (WarrantAccount's implementation).
    #[arg(long)]
    delegate: Address,
    /// The WarrantValidator to use: the same transaction ends every earlier session there (`revokeAll`) and
    /// installs it unless it is installed already (a module set survives a reset).
    #[arg(long, value_name = "VALIDATOR")]
    install_module: Option<Address>,
    /// Temporary mode: also sign the restore transaction (zero-address authorization + `revokeAll` on the
    /// validator, for the nonce right after this delegation) and write it to this new file (mode 0600) once the
    /// delegation succeeded; anyone can broadcast it later with `warrant undelegate --auth FILE`.
    #[arg(long, value_name = "FILE", requires = "install_module")]
    temporary: Option<std::path::PathBuf>,
    /// The EOA's key (it signs the authorization and pays for the transaction).
    #[command(flatten)]
    eoa: SignerArgs,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The file `warrant delegate --temporary` writes: the signed restore transaction and what it does.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RestoreFile {
    /// Always `warrant-eip7702-restore`.
    kind: String,
    /// The EOA.
    account: Address,
    /// The chain.
    chain_id: u64,
    /// The validator whose sessions the transaction ends.
    validator: Address,
    /// The EOA nonce the transaction uses.
    nonce: u64,
    /// Its fixed maximum fee per gas.
    max_fee_per_gas: u128,
    /// The transaction hash.
    transaction_hash: B256,
    /// The EIP-2718 bytes for `eth_sendRawTransaction`.
    raw_transaction: Bytes,
}

const RESTORE_FILE_KIND: &str = "warrant-eip7702-restore";

/// Whether `module` is installed on `account`, reading the account's storage through `delegate`'s code (the
/// EOA may have no code yet, while its storage, and so its module set, survives a reset).
async fn module_installed(
    net: &Net,
    account: Address,
    delegate: Address,
    module: Address,
) -> Result<bool, CliError> {
    let code = net.code(delegate).await?;
    let mut overrides = StateOverride::default();
    overrides.insert(account, AccountOverride { code: Some(code), ..Default::default() });
    let call = isModuleInstalledCall {
        moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
        module,
        additionalContext: Bytes::new(),
    };
    let tx = TransactionRequest::default().with_to(account).with_input(call.abi_encode());
    let out = net.provider.call(tx).overrides(overrides).await.map_err(|e| node_error("eth_call", e))?;
    isModuleInstalledCall::abi_decode_returns(&out)
        .map_err(|e| node_fault("eth_call", format!("undecodable isModuleInstalled answer: {e}")))
}

/// Signs the restore transaction of `eoa` for `nonce` (spec G), with fees from the node: a maximum fee with
/// room for the base fee to triple (a pre-signed transaction can't raise it later).
async fn restore_transaction(
    net: &Net,
    eoa: &PrivateKeySigner,
    validator: Address,
    nonce: u64,
) -> Result<eip7702::SignedRestoreTx, CliError> {
    let fees = net.provider.estimate_eip1559_fees().await.map_err(|e| node_error("eth_feeHistory", e))?;
    let tx = RestoreTx {
        chain_id: net.chain_id,
        nonce,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        max_fee_per_gas: fees.max_fee_per_gas.saturating_mul(3).max(fees.max_priority_fee_per_gas),
        gas_limit: eip7702::RESTORE_GAS_LIMIT,
        validator,
    };
    Ok(eip7702::sign_restore_transaction(eoa, tx)?)
}

pub(crate) fn delegate(args: &DelegateArgs) -> Result<ExitCode, CliError> {
    let eoa = args.eoa.signer("EOA")?;
    if let Some(path) = &args.temporary
        && path.exists()
    {
        return Err(CliError::InvalidInput(format!("{} exists; refusing to overwrite it", path.display())));
    }
    runtime()?.block_on(async {
        let net = Net::connect(&args.net, Some(&eoa)).await?;
        let delegate_code = net.code(args.delegate).await?;
        eip7702::check_delegate_code(args.delegate, &delegate_code)?;
        let account = eoa.address();
        let tx_nonce = net
            .provider
            .get_transaction_count(account)
            .await
            .map_err(|e| node_error("eth_getTransactionCount", e))?;
        // The sender is the authority: the tuple's nonce is the transaction's + 1.
        let auth = eip7702::authorization(
            net.chain_id,
            args.delegate,
            eip7702::self_sponsored_tuple_nonce(tx_nonce),
            ChainScope::ThisChainOnly,
        )?;
        let auth = eip7702::sign_authorization(&eoa, auth)?;
        // After the delegation the EOA's nonce is tx_nonce + 2 (the transaction and its own tuple).
        let restore = match (&args.temporary, args.install_module) {
            (Some(_), Some(validator)) => Some(
                restore_transaction(&net, &eoa, validator, eip7702::reset_nonce(tx_nonce, true, 0)).await?,
            ),
            _ => None,
        };
        // Second layer against revived sessions: the delegation itself ends every session of the validator
        // (the EOA's self-call `execute` batch runs on the new code), then installs it if needed.
        let mut installed_before = None;
        let data: Bytes = match args.install_module {
            Some(module) => {
                let installed = module_installed(&net, account, args.delegate, module).await?;
                installed_before = Some(installed);
                let mut calls = vec![Call {
                    target: module,
                    value: U256::ZERO,
                    data: IWarrantValidator::revokeAllCall {}.abi_encode(),
                }];
                if !installed {
                    calls.push(Call {
                        target: account,
                        value: U256::ZERO,
                        data: installModuleCall {
                            moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
                            module,
                            initData: Bytes::new(),
                        }
                        .abi_encode(),
                    });
                }
                execute_batch(&calls)
            }
            None => Bytes::new(),
        };
        debug_assert!(data.is_empty() || data[4..36] == MODE_BATCH[..]);
        let tx = TransactionRequest::default()
            .with_from(account)
            .with_to(account)
            .with_input(data)
            .with_authorization_list(vec![auth]);
        let receipt = net.send_tx(tx).await?;
        let code = net.code(account).await?;
        let delegated = eip7702::parse_delegation_designator(&code) == Some(args.delegate);
        let ok = receipt.status() && delegated;
        // The restore file exists only for a delegation that happened.
        let written = match (&args.temporary, &restore) {
            (Some(path), Some(restore)) if ok => {
                let file = RestoreFile {
                    kind: RESTORE_FILE_KIND.into(),
                    account,
                    chain_id: net.chain_id,
                    validator: restore.tx.validator,
                    nonce: restore.tx.nonce,
                    max_fee_per_gas: restore.tx.max_fee_per_gas,
                    transaction_hash: restore.hash,
                    raw_transaction: restore.raw.clone(),
                };
                write_new_file(path, &serde_json::to_string_pretty(&file)?)?;
                Some(path)
            }
            _ => None,
        };
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "account": account,
                    "delegate": args.delegate,
                    "transactionHash": receipt.transaction_hash,
                    "gasUsed": receipt.gas_used,
                    "delegated": delegated,
                    "success": receipt.status(),
                    "module": args.install_module,
                    "moduleWasInstalled": installed_before,
                    "restoreFile": written.map(|p| p.display().to_string()),
                    "restoreTransactionHash": restore.as_ref().map(|r| r.hash),
                }))?
            );
        } else {
            println!(
                "{account} {} {} in transaction {} ({} gas)",
                if delegated { "now delegates to" } else { "did NOT delegate to" },
                args.delegate,
                receipt.transaction_hash,
                receipt.gas_used
            );
            if let Some(module) = args.install_module {
                println!("every earlier session at validator {module} ended (epoch bumped)");
            }
            if let Some(path) = written {
                println!(
                    "restore transaction written to {}; `warrant undelegate --auth {}` (anyone may send it) \
                     restores the EOA and ends its sessions",
                    path.display(),
                    path.display()
                );
            } else if args.temporary.is_some() {
                println!("the delegation failed: no restore file written");
            }
        }
        Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// Writes a new file, mode 0600 (it holds a signed transaction); never overwrites one.
fn write_new_file(path: &std::path::Path, contents: &str) -> Result<(), CliError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .map_err(|e| CliError::InvalidInput(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| CliError::InvalidInput(format!("cannot write {}: {e}", path.display())))
}

/// Arguments of `warrant undelegate`.
#[derive(Debug, clap::Args)]
pub(crate) struct UndelegateArgs {
    /// A pre-signed restore transaction (from `warrant delegate --temporary`): broadcast as is; no key is
    /// needed, anyone can send it. Without it, the EOA's key signs a fresh restore transaction.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["module", "keep_sessions"])]
    auth: Option<std::path::PathBuf>,
    /// The WarrantValidator whose sessions the restore ends (`revokeAll` in the same transaction).
    #[arg(long, value_name = "VALIDATOR", conflicts_with = "keep_sessions")]
    module: Option<Address>,
    /// Restore the EOA without ending its sessions: they revive if it delegates to WarrantAccount again.
    #[arg(long)]
    keep_sessions: bool,
    /// The EOA's key (not needed with --auth).
    #[command(flatten)]
    eoa: SignerArgs,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Reads and checks a restore file: a type-4 transaction from the file's account to its validator calling
/// `revokeAll()`, whose only authorization is the account's own zero-address one for the next nonce.
fn read_restore_file(path: &std::path::Path) -> Result<RestoreFile, CliError> {
    let bad = |why: String| CliError::InvalidInput(format!("{}: {why}", path.display()));
    let text = crate::input::read_file(path, "restore file")?;
    let file: RestoreFile = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "not a restore transaction file (an older reset authorization? re-run `warrant delegate`): {e}"
        ))
    })?;
    if file.kind != RESTORE_FILE_KIND {
        return Err(bad(format!("kind {:?}, expected {RESTORE_FILE_KIND:?}", file.kind)));
    }
    let envelope = TxEnvelope::decode_2718(&mut file.raw_transaction.as_ref())
        .map_err(|e| bad(format!("the raw transaction does not decode: {e}")))?;
    let TxEnvelope::Eip7702(signed) = &envelope else {
        return Err(bad("the raw transaction is not an EIP-7702 (type-4) transaction".into()));
    };
    let sender = signed
        .signature()
        .recover_address_from_prehash(&signed.signature_hash())
        .map_err(|e| bad(format!("its signature does not recover: {e}")))?;
    let tx = signed.tx();
    let auths = tx.authorization_list().unwrap_or_default();
    let auth_ok = match auths {
        [auth] => {
            auth.address.is_zero()
                && eip7702::recover_authority(auth).ok() == Some(file.account)
                && auth.nonce == eip7702::self_sponsored_tuple_nonce(tx.nonce)
        }
        _ => false,
    };
    let checks = [
        (sender == file.account, "it is not sent by the file's account"),
        (tx.chain_id == file.chain_id, "its chain id is not the file's"),
        (tx.to == file.validator, "it does not call the file's validator"),
        (tx.input.as_ref() == eip7702::restore_calldata().as_slice(), "it does not call revokeAll()"),
        (tx.value.is_zero(), "it sends value"),
        (tx.nonce == file.nonce, "its nonce is not the file's"),
        (auth_ok, "its authorization list is not the account's own zero-address authorization for nonce + 1"),
    ];
    if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
        return Err(bad((*why).into()));
    }
    Ok(file)
}

pub(crate) fn undelegate(args: &UndelegateArgs) -> Result<ExitCode, CliError> {
    let file = args.auth.as_deref().map(read_restore_file).transpose()?;
    let eoa = match &file {
        Some(_) => None,
        None => {
            if args.module.is_none() && !args.keep_sessions {
                return Err(CliError::InvalidInput(
                    "which validator's sessions does the restore end? pass --module VALIDATOR (or \
                     --keep-sessions to restore the EOA and keep its sessions, which revive on a later \
                     delegation)"
                        .into(),
                ));
            }
            Some(args.eoa.signer("EOA")?)
        }
    };
    runtime()?.block_on(async {
        let net = Net::connect(&args.net, None).await?;
        let (account, raw, validator) = match (&file, &eoa) {
            (Some(file), _) => {
                if file.chain_id != net.chain_id {
                    return Err(CliError::InvalidInput(format!(
                        "the restore transaction is for chain {}, the node is chain {}",
                        file.chain_id, net.chain_id
                    )));
                }
                (file.account, file.raw_transaction.clone(), Some(file.validator))
            }
            (None, Some(eoa)) => {
                let nonce = net
                    .provider
                    .get_transaction_count(eoa.address())
                    .await
                    .map_err(|e| node_error("eth_getTransactionCount", e))?;
                match args.module {
                    Some(validator) => {
                        let restore = restore_transaction(&net, eoa, validator, nonce).await?;
                        (eoa.address(), restore.raw, Some(validator))
                    }
                    None => (eoa.address(), plain_reset(&net, eoa, nonce).await?, None),
                }
            }
            (None, None) => unreachable!("a key is read when there is no file"),
        };
        let epoch_before = match validator {
            Some(v) => Some(net.view(v, IWarrantValidator::epochOfCall { account }).await?),
            None => None,
        };
        let pending = net
            .provider
            .send_raw_transaction(&raw)
            .await
            .map_err(|e| node_error("eth_sendRawTransaction", e))?;
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(60)))
            .get_receipt()
            .await
            .map_err(|e| node_error("eth_getTransactionReceipt", e))?;
        let restored = net.code(account).await?.is_empty();
        let epoch_after = match validator {
            Some(v) => Some(net.view(v, IWarrantValidator::epochOfCall { account }).await?),
            None => None,
        };
        let sessions_ended = matches!((epoch_before, epoch_after), (Some(b), Some(a)) if a > b);
        let ok = receipt.status() && restored && (validator.is_none() || sessions_ended);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "account": account,
                    "transactionHash": receipt.transaction_hash,
                    "gasUsed": receipt.gas_used,
                    "restored": restored,
                    "validator": validator,
                    "sessionsEnded": sessions_ended,
                    "epoch": epoch_after,
                    "success": ok,
                }))?
            );
        } else if ok {
            println!(
                "{account} is a plain EOA again (transaction {}, {} gas){}",
                receipt.transaction_hash,
                receipt.gas_used,
                match (validator, epoch_after) {
                    (Some(v), Some(e)) => format!("; every session at {v} ended (epoch {e})"),
                    _ => "; its sessions were kept (--keep-sessions)".into(),
                }
            );
        } else {
            println!(
                "{account} was NOT restored as asked (transaction {}: status {}, code cleared {restored}, \
                 sessions ended {sessions_ended}); the nonce may have moved on since the restore was signed",
                receipt.transaction_hash,
                receipt.status()
            );
        }
        Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// `--keep-sessions`: the zero-address authorization alone, in a transaction of the EOA to itself.
async fn plain_reset(net: &Net, eoa: &PrivateKeySigner, nonce: u64) -> Result<Bytes, CliError> {
    use alloy::network::NetworkTransactionBuilder as _;
    let reset = eip7702::reset_authorization(net.chain_id, eip7702::self_sponsored_tuple_nonce(nonce))?;
    let auth = eip7702::sign_authorization(eoa, reset)?;
    let fees = net.provider.estimate_eip1559_fees().await.map_err(|e| node_error("eth_feeHistory", e))?;
    let tx = TransactionRequest::default()
        .with_from(eoa.address())
        .with_to(eoa.address())
        .with_nonce(nonce)
        .with_chain_id(net.chain_id)
        .with_gas_limit(eip7702::RESTORE_GAS_LIMIT)
        .with_max_fee_per_gas(fees.max_fee_per_gas)
        .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas)
        .with_authorization_list(vec![auth]);
    let envelope =
        tx.build(&EthereumWallet::from(eoa.clone())).await.map_err(|e| CliError::Signing(e.to_string()))?;
    Ok(alloy::eips::Encodable2718::encoded_2718(&envelope).into())
}
