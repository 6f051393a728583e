//! The commands that talk to a network: `warrant send` (a session operation through a bundler), `warrant revoke`
//! (an owner operation), `warrant delegate` / `warrant undelegate` (EIP-7702 type-4 transactions).
//!
//! Flags follow Foundry's `cast`: `--rpc-url` / `ETH_RPC_URL`; the bundler is `--bundler-url` /
//! `WARRANT_BUNDLER_URL`. Every operation is checked by Warrant's pre-flight before it is signed; a refusal names
//! the on-chain rule and exits 1 (`--force` sends anyway, for testing the chain's own refusal).

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use alloy::{
    eips::eip7702::SignedAuthorization,
    network::{EthereumWallet, TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U128, U256, aliases::U192},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
    transports::http::reqwest::Url,
};
use warrant_chain::{
    ChainError,
    bundler::{BundlerClient, UserOperationReceipt},
};
use warrant_core::{
    IEntryPoint, UserOperation,
    constants::ENTRY_POINT_V08,
    eip7702::{self, ChainScope},
    grant::IWarrantValidator,
    policy::{self, Call, Presentation, SessionStatus, SessionUsage},
    session_op::{GasFields, SessionOp, execute_single, session_nonce_key},
    token::SignedGrant,
};

use crate::{
    CliError,
    inspect::{self, load_grant},
    keys::SignerArgs,
};

sol! {
    function installModule(uint256 moduleTypeId, address module, bytes initData);
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

fn node_error(method: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Chain(ChainError::Transport { method: method.into(), reason: e.to_string() })
}

impl Net {
    async fn connect(args: &NetArgs, wallet: Option<&PrivateKeySigner>) -> Result<Self, CliError> {
        let provider = match wallet {
            Some(signer) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer.clone()))
                .connect_http(args.rpc_url.clone())
                .erased(),
            None => ProviderBuilder::new().connect_http(args.rpc_url.clone()).erased(),
        };
        let chain_id = provider.get_chain_id().await.map_err(|e| node_error("eth_chainId", e))?;
        let bundler = args.bundler_url.clone().map(|url| BundlerClient::new(url, ENTRY_POINT_V08));
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
            .map_err(|e| node_error("eth_call", format!("undecodable answer from {to}: {e}")))
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
            .ok_or_else(|| node_error("eth_getBlockByNumber", "no latest block"))?;
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

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
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
    let status = usage.status;
    let presentation = if status == SessionStatus::None { Presentation::Enable } else { Presentation::Use };
    if presentation == Presentation::Enable {
        let epoch = net.view(module, IWarrantValidator::epochOfCall { account }).await?;
        if epoch != U256::from(signed.grant.epoch) {
            return Err(CliError::Refused(format!(
                "GrantEpochStale: the grant was signed for epoch {}, the account is at epoch {epoch} (revoked)",
                signed.grant.epoch
            )));
        }
    }

    // A scope with periods: the op names the current period in its nonce key, which pins its validity window.
    let now = net.now().await?;
    let period = policy::current_period(scope, now).unwrap_or(0);
    let sequence = net.entry_point_nonce(account, session_nonce_key(module, period)).await?;
    let (max_fee, max_priority) = net.fees().await?;
    let builder = SessionOp {
        account,
        module,
        chain_id: net.chain_id,
        calls: vec![call],
        gas: GasFields {
            call_gas_limit: 500_000,
            verification_gas_limit: 1_000_000,
            pre_verification_gas: 100_000,
            max_fee_per_gas: max_fee.to(),
            max_priority_fee_per_gas: max_priority.to(),
            paymaster: None,
        },
        key_suffix: 0,
        // getNonce returns key ‖ sequence; the builder takes the sequence (low 64 bits).
        sequence: (sequence & U256::from(u64::MAX)).to::<u64>(),
        // An already delegated EOA sends without the 0x7702 marker (see docs/e2e.md).
        eip7702: None,
    };
    let sign = |op: &UserOperation| -> Result<Bytes, CliError> {
        let mut b = builder.clone();
        b.gas.call_gas_limit = op.call_gas_limit.to();
        b.gas.verification_gas_limit = op.verification_gas_limit.to();
        b.gas.pre_verification_gas = op.pre_verification_gas.saturating_to();
        let signed_op = match presentation {
            Presentation::Enable => b.sign_enable(signed, key)?,
            Presentation::Use => b.sign_use(&signed.grant.session, key)?,
        };
        Ok(signed_op.op.signature)
    };
    let op = prepare(&net, builder.unsigned()?, &args.gas, sign).await;

    // The pre-flight on the operation as it will be sent (gas caps included), before anything is submitted.
    let judged = match &op {
        Ok(op) => op.pack(),
        Err(_) => builder.unsigned()?.pack(),
    };
    let verdict = policy::check_operation(id, scope, &usage, presentation, &judged, account, module)
        .and_then(|debit| policy::check_op_time(&debit, now));
    if let Err(denial) = &verdict {
        if !args.force {
            eprintln!("pre-flight: denied — {denial}");
            return Ok(ExitCode::from(1));
        }
        eprintln!("pre-flight: denied — {denial}; sending anyway (--force)");
    }
    // Estimation itself fails for an out-of-scope operation; with --force, the refusal is sent for real.
    let op = match op {
        Ok(op) => op,
        Err(_) if args.force => {
            let mut op = builder.unsigned()?;
            op.signature = sign(&op)?;
            op
        }
        Err(e) => return Err(e),
    };
    let receipt = submit(&net, &op).await?;
    print_receipt(&receipt, args.json)?;
    Ok(if receipt.success { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
        .ok_or_else(|| node_error("sessionState", format!("unknown session status {}", state.status)))
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
        let receipt = owner_op(&net, account, &owner, call_data, &args.gas).await?;
        print_receipt(&receipt, args.json)?;
        Ok(if receipt.success { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// An owner-signed operation of the account (nonce key 0: no module, the owner's ECDSA signature).
async fn owner_op(
    net: &Net,
    account: Address,
    owner: &PrivateKeySigner,
    call_data: Bytes,
    gas: &GasArgs,
) -> Result<UserOperationReceipt, CliError> {
    let (max_fee, max_priority) = net.fees().await?;
    let op = UserOperation {
        sender: account,
        nonce: net.entry_point_nonce(account, U192::ZERO).await?,
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
    /// Install this WarrantValidator in the same transaction (the EOA calls its new code's installModule).
    #[arg(long)]
    install_module: Option<Address>,
    /// Temporary mode: also sign the zero-address reset authorization for right after this delegation and
    /// write it to this file (JSON), so anyone can restore the EOA later with `warrant undelegate --auth`.
    #[arg(long, value_name = "FILE")]
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
        let reset = match &args.temporary {
            Some(path) => {
                let nonce = eip7702::reset_nonce(tx_nonce, true, 0);
                let reset =
                    eip7702::sign_authorization(&eoa, eip7702::reset_authorization(net.chain_id, nonce)?)?;
                write_new_file(path, &serde_json::to_string_pretty(&reset)?)?;
                Some(reset)
            }
            None => None,
        };
        let data: Bytes = match args.install_module {
            Some(module) => installModuleCall { moduleTypeId: U256::from(1), module, initData: Bytes::new() }
                .abi_encode()
                .into(),
            None => Bytes::new(),
        };
        let tx = TransactionRequest::default()
            .with_from(account)
            .with_to(account)
            .with_input(data)
            .with_authorization_list(vec![auth]);
        let receipt = net.send_tx(tx).await?;
        let code = net.code(account).await?;
        let delegated = eip7702::parse_delegation_designator(&code) == Some(args.delegate);
        let ok = receipt.status() && delegated;
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
                    "resetAuthorization": reset,
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
            if let Some(path) = &args.temporary {
                println!(
                    "reset authorization written to {}; `warrant undelegate --auth FILE` restores the EOA",
                    path.display()
                );
            }
        }
        Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

/// Writes a file that must not exist yet (a reset authorization is never overwritten).
fn write_new_file(path: &std::path::Path, contents: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| CliError::InvalidInput(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| CliError::InvalidInput(format!("cannot write {}: {e}", path.display())))
}

/// Arguments of `warrant undelegate`.
#[derive(Debug, clap::Args)]
pub(crate) struct UndelegateArgs {
    /// A pre-signed reset authorization (from `warrant delegate --temporary`); the key below only pays gas.
    /// Without it, the key is the EOA's and signs a fresh reset.
    #[arg(long, value_name = "FILE")]
    auth: Option<std::path::PathBuf>,
    /// The key that sends the transaction (the EOA's own key when no --auth is given).
    #[command(flatten)]
    sender: SignerArgs,
    #[command(flatten)]
    net: NetArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn undelegate(args: &UndelegateArgs) -> Result<ExitCode, CliError> {
    let sender = args.sender.signer("sender")?;
    let given: Option<SignedAuthorization> = args
        .auth
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::InvalidInput(format!("cannot read {}: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| CliError::InvalidInput(format!("{}: not an authorization: {e}", path.display())))
        })
        .transpose()?;
    runtime()?.block_on(async {
        let net = Net::connect(&args.net, Some(&sender)).await?;
        let auth = match given {
            Some(auth) => {
                if !auth.address.is_zero() {
                    return Err(CliError::InvalidInput(format!(
                        "{} delegates to {}, not to the zero address: not a reset",
                        args.auth.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                        auth.address
                    )));
                }
                auth
            }
            None => {
                let nonce = net
                    .provider
                    .get_transaction_count(sender.address())
                    .await
                    .map_err(|e| node_error("eth_getTransactionCount", e))?;
                let reset = eip7702::reset_authorization(net.chain_id, eip7702::self_sponsored_tuple_nonce(nonce))?;
                eip7702::sign_authorization(&sender, reset)?
            }
        };
        let account = eip7702::recover_authority(&auth)?;
        let tx = TransactionRequest::default()
            .with_from(sender.address())
            .with_to(sender.address())
            .with_authorization_list(vec![auth]);
        let receipt = net.send_tx(tx).await?;
        let restored = net.code(account).await?.is_empty();
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "account": account,
                    "transactionHash": receipt.transaction_hash,
                    "gasUsed": receipt.gas_used,
                    "restored": restored,
                }))?
            );
        } else if restored {
            println!("{account} is a plain EOA again (transaction {}, {} gas)", receipt.transaction_hash, receipt.gas_used);
        } else {
            println!(
                "{account} still has code: the reset authorization was not applied (nonce moved on?); transaction {}",
                receipt.transaction_hash
            );
        }
        Ok(if restored { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
