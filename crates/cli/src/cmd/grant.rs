//! `warrant grant`: the owner signs a grant (dynamic delegation) for a session key from scope flags.

use std::{
    process::ExitCode,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::primitives::{Address, B256, U256, Uint};
use warrant_core::{
    account::AccountKind,
    erc7715,
    explain::explain_grant,
    gate::MAX_GATES,
    grant::{GasBudget, Gate, Grant, Scope, Session, SpendLimit},
    grant_json::SignedGrantJson,
    session_op::sign_grant_for,
};

use crate::{
    CliError,
    args::{SignerArgs, parse_account_kind, provider, runtime},
    cmd::explain::parameter_legend,
    scope_spec::{self, Signature},
};

/// Arguments of `warrant grant`.
#[derive(Debug, clap::Args)]
pub(crate) struct GrantArgs {
    /// The account the session acts for (a WarrantAccount: a 7702-delegated EOA or a proxy). With --from-7715:
    /// the request's `from`, or this when it has none.
    #[arg(long, value_parser = scope_spec::parse_address, required_unless_present = "from_7715")]
    pub(crate) account: Option<Address>,
    /// The WarrantValidator module installed in the account.
    #[arg(long, value_parser = scope_spec::parse_address)]
    pub(crate) module: Address,
    /// Chain the grant is for (part of the signed domain). Default: the node's (--rpc-url / ETH_RPC_URL), or the
    /// --from-7715 request's; required without either.
    #[arg(long)]
    pub(crate) chain_id: Option<u64>,
    /// The account's revocation epoch at the module (`revokeAll` bumps it; a grant of another epoch is dead).
    /// Default: the module's `epochOf(account)` on the node (--rpc-url / ETH_RPC_URL); required without a node.
    #[arg(long)]
    pub(crate) epoch: Option<u64>,
    /// The session key's address.
    #[arg(long, value_parser = scope_spec::parse_address, required_unless_present = "from_7715")]
    pub(crate) session_key: Option<Address>,
    /// An ERC-7715 permission request (JSON file: one request, current or legacy `wallet_grantPermissions`
    /// shape, or an array of one) instead of the scope flags: its chain, account, session key (`to`), limits
    /// and rules, translated exactly or refused (docs/erc7715.md). Gas: --paymaster, or (an ERC-20 permission)
    /// --max-value as the gas budget; a native permission's own limit bounds its gas. --max-gas,
    /// --max-fee-per-gas and --salt apply as usual.
    #[arg(long = "from-7715", value_name = "REQUEST.json", conflicts_with_all = [
        "allow", "valid_until", "valid_after", "max_uses", "spend", "spend_native", "require_balance",
        "max_uses_per_period", "period", "period_start", "unbounded_gas", "chain_id", "session_key",
    ])]
    pub(crate) from_7715: Option<std::path::PathBuf>,
    /// A permitted call: TARGET:FUNCTION[:RULE,…] (repeatable). See `warrant grant --help`.
    #[arg(
        long = "allow",
        required_unless_present = "from_7715",
        value_name = "TARGET:FUNCTION[:RULES]",
        long_help = ALLOW_HELP
    )]
    pub(crate) allow: Vec<String>,
    /// Latest time the session may act: unix seconds, RFC 3339 (`2026-12-01T12:00:00Z`) or `+1h`, `+30m`, `+7d`.
    #[arg(long)]
    pub(crate) valid_until: Option<String>,
    /// The session may act only after this time (same forms as --valid-until).
    #[arg(long)]
    pub(crate) valid_after: Option<String>,
    /// Maximum number of operations (0 or absent: unlimited).
    #[arg(long, default_value_t = 0)]
    pub(crate) max_uses: u32,
    /// The session's native budget over its life (e.g. `0.05ether`), GAS INCLUDED: without a paymaster every
    /// operation's maximum gas cost counts against it with the calls' value. Default: 0, so the grant is
    /// refused unless a paymaster is pinned (--paymaster) or --spend-native sets the native budget (then no cap
    /// of its own).
    #[arg(long)]
    pub(crate) max_value: Option<String>,
    /// A spend limit on an ERC-20: TOKEN:AMOUNT (over the session's life) or TOKEN:AMOUNT/PERIOD (per period,
    /// e.g. `1d`, `12h`, `3600s`). Repeatable; a token may have one of each. Every transfer, approve,
    /// increaseAllowance, transferFrom and permit of the account's tokens counts (and Permit2's approve and
    /// transferFrom); other calls to a limited token are refused.
    #[arg(long = "spend", value_name = "TOKEN:AMOUNT[/PERIOD]")]
    pub(crate) spend: Vec<String>,
    /// A spend limit on native value, gas included when the account pays for gas: AMOUNT or AMOUNT/PERIOD
    /// (repeatable, once of each).
    #[arg(long = "spend-native", value_name = "AMOUNT[/PERIOD]")]
    pub(crate) spend_native: Vec<String>,
    /// Only while the account holds at least MIN of a token (repeatable, at most 8): `erc20:TOKEN:MIN` (smallest
    /// units), `erc721:TOKEN:MIN` (NFTs of the collection), `erc1155:TOKEN:ID:MIN`. Checked before every
    /// operation. The grant is probed on the node first (--rpc-url): a token a bundler would refuse to read in
    /// validation (a proxy, for one; ERC-7562) is refused here. See docs/gating.md.
    #[arg(long = "require-balance", value_name = "KIND:TOKEN[:ID]:MIN")]
    pub(crate) require_balance: Vec<String>,
    /// Node to read the chain id and the account's epoch from (when --chain-id / --epoch are not given) and to
    /// probe --require-balance tokens on (debug_traceCall with a JavaScript tracer, as bundlers use).
    #[arg(long, env = "ETH_RPC_URL")]
    pub(crate) rpc_url: Option<alloy::transports::http::reqwest::Url>,
    /// Sign a gated grant without probing its tokens (when no node with debug_traceCall is at hand). The op may
    /// then be refused by the bundler if a token reads storage ERC-7562 forbids.
    #[arg(long)]
    pub(crate) skip_gate_probe: bool,
    /// At most N operations per period (needs a period, from a /PERIOD limit or --period).
    #[arg(long, default_value_t = 0)]
    pub(crate) max_uses_per_period: u32,
    /// The session's period when no spend limit names one (for --max-uses-per-period alone).
    #[arg(long)]
    pub(crate) period: Option<String>,
    /// Start of period 0 (same forms as --valid-until). Default: the last multiple of the period since the unix
    /// epoch, so `1d` periods turn at midnight UTC.
    #[arg(long)]
    pub(crate) period_start: Option<String>,
    /// Require this paymaster to sponsor every operation (the session then can't spend the account's ETH on gas).
    /// Without it, operations may use no paymaster at all.
    #[arg(long, value_parser = scope_spec::parse_address)]
    pub(crate) paymaster: Option<Address>,
    /// Cap on the sum of an operation's gas limits.
    #[arg(long, default_value_t = 0)]
    pub(crate) max_gas: u128,
    /// Cap on an operation's maxFeePerGas (e.g. `50gwei`).
    #[arg(long)]
    pub(crate) max_fee_per_gas: Option<String>,
    /// DANGER: sign a scope whose gas is unbounded (no paymaster, no finite native budget) or unusable (no
    /// paymaster and a native budget of 0). An unbounded session MAY SPEND THE ACCOUNT'S WHOLE NATIVE BALANCE ON
    /// GAS, paid to a bundler of its choosing. Without this flag such grants are refused.
    #[arg(long)]
    pub(crate) unbounded_gas: bool,
    /// Salt that tells apart sessions of one key with the same scope (hex, 32 bytes; default: random).
    #[arg(long)]
    pub(crate) salt: Option<B256>,
    /// The account's implementation, which decides how the owner's ERC-1271 signature is wrapped: warrant
    /// (WarrantAccount, ERC-7739), nexus (Biconomy Nexus 1.0.0) or kernel (ZeroDev Kernel v3.1).
    #[arg(long, default_value = "warrant", value_parser = parse_account_kind)]
    pub(crate) account_kind: AccountKind,
    /// The account's validator that holds the owner's key (nexus and kernel route ERC-1271 through it).
    #[arg(long, value_parser = scope_spec::parse_address)]
    pub(crate) owner_validator: Option<Address>,
    /// The owner's key.
    #[command(flatten)]
    pub(crate) owner: SignerArgs,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

const ALLOW_HELP: &str =
    "A permitted call: TARGET:FUNCTION[:RULE,RULE,…] (repeatable; the first matching policy \
decides).
  TARGET    an address, or * for any target (explicit wildcard)
  FUNCTION  transfer(address to,uint256 amount) | 0xa9059cbb | * (any selector) | receive (plain ETH)
  RULE      ARG==V  ARG!=V  ARG<V  ARG<=V  ARG>V  ARG>=V  ARG in A|B|C   (uintN intN address bool bytesN)
            len(ARG)<=N  len(ARG)>=N                                    (bytes, string, T[])
            keccak(ARG)==0x…                          (bytes, string, arrays of one-word elements)
            value<=AMOUNT                                               (native value per call; default 0)
  ARG is a parameter name from the signature, or argN: parameter N counted from arg0, whatever the types
  before it. Each rule carries the parameter's type: intN compares signed (-5 is a value), an address must
  have a valid EIP-55 checksum if mixed-case, bool is true|false, bytesN is exactly N bytes of hex; a value
  that does not fit the type, or an empty one, is refused. Whole static arrays and tuples (uint256[2],
  (address,uint256)) can't be compared. Amounts: 100, 0x64, 1e18, 0.5ether, 20gwei.
Example: --allow '0xToken:transfer(address to,uint256 amount):to==0xBob,amount<=100e18'";

/// Parses a time: unix seconds, RFC 3339, or `+DURATION` from now.
pub(crate) fn parse_time(text: &str, now: u64) -> Result<u64, CliError> {
    let text = text.trim();
    let bad = |e: String| CliError::InvalidInput(format!("time {text:?}: {e}"));
    if let Some(relative) = text.strip_prefix('+') {
        let d = humantime::parse_duration(relative).map_err(|e| bad(e.to_string()))?;
        return now.checked_add(d.as_secs()).ok_or_else(|| bad("too far".into()));
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let t = humantime::parse_rfc3339_weak(text)
        .map_err(|e| bad(format!("{e} (unix seconds, RFC 3339 or +1h)")))?;
    Ok(t.duration_since(UNIX_EPOCH).map_err(|_| bad("before 1970".into()))?.as_secs())
}

fn uint48(value: u64, what: &str) -> Result<Uint<48, 1>, CliError> {
    Uint::<48, 1>::try_from(value)
        .map_err(|_| CliError::InvalidInput(format!("{what} {value} does not fit 48 bits")))
}

impl GrantArgs {
    /// The session the flags describe (salt random unless given).
    pub(crate) fn session(&self, now: u64) -> Result<Session, CliError> {
        let calls = self
            .allow
            .iter()
            .map(|spec| scope_spec::parse_policy(spec).map_err(|e| CliError::InvalidInput(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let valid_until = self.valid_until.as_deref().map(|t| parse_time(t, now)).transpose()?.unwrap_or(0);
        let valid_after = self.valid_after.as_deref().map(|t| parse_time(t, now)).transpose()?.unwrap_or(0);
        if valid_until != 0 && valid_until <= valid_after {
            return Err(CliError::InvalidInput("--valid-until must be later than --valid-after".into()));
        }
        if valid_until != 0 && valid_until <= now {
            return Err(CliError::InvalidInput(format!("--valid-until {valid_until} is already past")));
        }
        let amount = |text: &str, what: &str| {
            scope_spec::parse_amount(text).map_err(|e| CliError::InvalidInput(format!("{what}: {e}")))
        };
        let max_fee_per_gas = match &self.max_fee_per_gas {
            Some(t) => u128::try_from(amount(t, "--max-fee-per-gas")?)
                .map_err(|_| CliError::InvalidInput("--max-fee-per-gas does not fit 128 bits".into()))?,
            None => 0,
        };
        let (period, period_start, limits) = self.spend_rules(now)?;
        let max_value_total = match &self.max_value {
            Some(text) => amount(text, "--max-value")?,
            // The native spend limit governs: no separate lifetime budget unless asked for.
            None if !self.spend_native.is_empty() => U256::MAX,
            None => U256::ZERO,
        };
        let scope = Scope {
            validAfter: uint48(valid_after, "--valid-after")?,
            validUntil: uint48(valid_until, "--valid-until")?,
            maxUses: self.max_uses,
            maxValueTotal: max_value_total,
            paymaster: self.paymaster.unwrap_or_default(),
            maxGasLimit: self.max_gas,
            maxFeePerGas: max_fee_per_gas,
            calls,
            period,
            periodStart: uint48(period_start, "--period-start")?,
            maxUsesPerPeriod: self.max_uses_per_period,
            limits,
            gates: self.gates()?,
        };
        check_gas_budget(&scope, self.unbounded_gas)?;
        let salt = self.salt.unwrap_or_else(B256::random);
        let signer =
            self.session_key.ok_or_else(|| CliError::InvalidInput("--session-key is required".into()))?;
        Ok(Session { signer, salt, scope })
    }

    /// The account, the chain (when known without a node) and the session: from the scope flags, or translated
    /// from --from-7715.
    fn plan(&self, now: u64) -> Result<(Address, Option<u64>, Session), CliError> {
        let Some(path) = &self.from_7715 else {
            let account =
                self.account.ok_or_else(|| CliError::InvalidInput("--account is required".into()))?;
            return Ok((account, self.chain_id, self.session(now)?));
        };
        let translation = self.translate_7715(path, now)?;
        let salt = self.salt.unwrap_or_else(B256::random);
        // Only the session is taken: the epoch is the grant's, decided by `domain`.
        let session = translation.grant(0, salt).session;
        Ok((translation.account, Some(translation.chain_id), session))
    }

    /// Reads and translates the --from-7715 request with the gas and fee flags as the owner's terms.
    fn translate_7715(&self, path: &std::path::Path, now: u64) -> Result<erc7715::Translation, CliError> {
        let bad = |e: String| CliError::InvalidInput(format!("ERC-7715 request {}: {e}", path.display()));
        let text = crate::input::read_file(path, "ERC-7715 request")?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut requests =
            erc7715::PermissionRequest::list_from_json(&json).map_err(|e| bad(e.to_string()))?;
        if requests.len() != 1 {
            return Err(bad(format!("{} requests; a grant translates one (split the file)", requests.len())));
        }
        let request = requests.remove(0);
        let amount = |text: &str, what: &str| {
            scope_spec::parse_amount(text).map_err(|e| CliError::InvalidInput(format!("{what}: {e}")))
        };
        let gas = match (self.paymaster, &self.max_value) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "--paymaster and --max-value together: a sponsored grant's native budget is the permission's \
                     own"
                    .into(),
                ));
            }
            (Some(paymaster), None) => erc7715::GasTerms::Sponsored { paymaster },
            (None, Some(text)) => {
                erc7715::GasTerms::AccountPays { max_value_total: amount(text, "--max-value")? }
            }
            // As --spend-native without --max-value: the native limit governs, gas included. An ERC-20
            // permission then has no native budget for gas, which the translation refuses by name.
            (None, None) => erc7715::GasTerms::AccountPays {
                max_value_total: match request.permission.asset {
                    erc7715::Asset::Native => U256::MAX,
                    erc7715::Asset::Erc20(_) => U256::ZERO,
                },
            },
        };
        let max_fee_per_gas = match &self.max_fee_per_gas {
            Some(t) => u128::try_from(amount(t, "--max-fee-per-gas")?)
                .map_err(|_| CliError::InvalidInput("--max-fee-per-gas does not fit 128 bits".into()))?,
            None => 0,
        };
        let terms = erc7715::GrantTerms {
            now,
            account: self.account,
            gas,
            max_gas_limit: self.max_gas,
            max_fee_per_gas,
        };
        erc7715::translate(&request, &terms).map_err(|e| {
            let hint = if matches!(&e, erc7715::Erc7715Error::Invalid { field, .. } if field.starts_with("gas")) {
                " (--max-value sets the native budget, gas included; --paymaster pins a sponsor)"
            } else {
                ""
            };
            bad(format!("{e}{hint}"))
        })
    }
}

/// Refuses a scope whose gas the account pays without bound (it could drain the account through the gas
/// prefund) or cannot pay at all, unless `--unbounded-gas` says the owner means it (rule C of the grant format).
fn check_gas_budget(scope: &Scope, unbounded_gas: bool) -> Result<(), CliError> {
    if unbounded_gas {
        return Ok(());
    }
    match scope.gas_budget() {
        GasBudget::Sponsored { .. } | GasBudget::Native { .. } => Ok(()),
        GasBudget::Unbounded => Err(CliError::InvalidInput(
            "the session's gas is unbounded: no paymaster, no finite --max-value and no finite --spend-native \
             limit, so it could spend the account's whole native balance on gas. Set a native budget, gas \
             included (--max-value 0.01ether or --spend-native), or pin a paymaster (--paymaster); \
             --unbounded-gas signs it anyway"
                .into(),
        )),
        GasBudget::Zero => Err(CliError::InvalidInput(
            "the account pays gas but the session may spend no native value, so no operation could pay for its \
             gas: set a native budget, gas included (--max-value 0.01ether or --spend-native), or pin a paymaster \
             (--paymaster); --unbounded-gas signs it anyway"
                .into(),
        )),
    }
}

impl GrantArgs {
    /// The period, its anchor and the spend limits from --spend, --spend-native, --period, --period-start and
    /// --max-uses-per-period.
    fn gates(&self) -> Result<Vec<Gate>, CliError> {
        let gates = self
            .require_balance
            .iter()
            .map(|t| scope_spec::parse_gate(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CliError::InvalidInput)?;
        if gates.len() > MAX_GATES {
            return Err(CliError::InvalidInput(format!(
                "{} --require-balance gates: a session may have at most {MAX_GATES} (each is a call in validation)",
                gates.len()
            )));
        }
        if let Some(g) = gates.iter().find(|g| Some(g.token) == self.account) {
            return Err(CliError::InvalidInput(format!(
                "--require-balance names the account itself ({}) as the token",
                g.token
            )));
        }
        Ok(gates)
    }

    fn spend_rules(&self, now: u64) -> Result<(u32, u64, Vec<SpendLimit>), CliError> {
        let bad = CliError::InvalidInput;
        let mut specs = Vec::new();
        for text in &self.spend {
            specs.push(scope_spec::parse_spend(text).map_err(bad)?);
        }
        for text in &self.spend_native {
            specs.push(scope_spec::parse_spend_amount("--spend-native", Address::ZERO, text).map_err(bad)?);
        }
        let period = self
            .period
            .as_deref()
            .map(|p| scope_spec::parse_period(p).map_err(|e| bad(format!("--period: {e}"))))
            .transpose()?;
        let (period, limits) = scope_spec::spend_limits(&specs, period).map_err(bad)?;
        if period == 0 {
            if self.max_uses_per_period != 0 {
                return Err(bad(
                    "--max-uses-per-period needs a period (a /PERIOD spend limit or --period)".into()
                ));
            }
            if self.period_start.is_some() {
                return Err(bad("--period-start needs a period (a /PERIOD spend limit or --period)".into()));
            }
            return Ok((0, 0, limits));
        }
        let start = match &self.period_start {
            Some(t) => parse_time(t, now)?,
            None => now - now % u64::from(period),
        };
        Ok((period, start, limits))
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

pub(crate) fn run(args: &GrantArgs) -> Result<ExitCode, CliError> {
    let (account, chain_id, session) = args.plan(now())?;
    if !session.scope.gates.is_empty() {
        probe(args, account, &session.scope)?;
    }
    let (chain_id, epoch) = domain(args, account, chain_id)?;
    let owner = args.owner.signer("owner")?;
    let grant = Grant { account, epoch, session };
    let signed =
        sign_grant_for(args.account_kind, args.owner_validator, grant, args.module, chain_id, &owner)?;
    let token = signed.to_token().map_err(|e| CliError::InvalidInput(format!("grant token: {e}")))?;
    if args.json {
        let mut value = serde_json::json!({
            "token": token,
            "sessionId": signed.session_id(),
            "owner": owner.address(),
            "grant": SignedGrantJson::from(&signed),
        });
        if args.from_7715.is_some() {
            // What a wallet answers the dApp: the request as granted, the token as context.
            let response = erc7715::PermissionResponse::from_grant(&signed, vec![])
                .map_err(|e| CliError::InvalidInput(e.to_string()))?;
            value["erc7715Response"] = response.to_json();
        }
        crate::args::print_json(&value)?;
    } else {
        // The grant carries no parameter names: say which parameter of each --allow signature a condition reads.
        let signatures: Vec<Option<Signature>> = args
            .allow
            .iter()
            .map(|spec| scope_spec::parse_policy_signature(spec).ok().and_then(|(_, s)| s))
            .collect();
        let legend = parameter_legend(&signed.grant.session.scope, |i, _| signatures.get(i)?.as_ref())
            .map(|l| format!("\n{l}"))
            .unwrap_or_default();
        eprintln!(
            "{}{legend}\nsession id {}; signed by {}",
            explain_grant(&signed.grant, &Default::default()),
            signed.session_id(),
            owner.address()
        );
        println!("{token}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The chain id and the account's epoch: as given, else read from the node; without a node both are required.
fn domain(args: &GrantArgs, account: Address, known_chain: Option<u64>) -> Result<(u64, u64), CliError> {
    if let (Some(chain_id), Some(epoch)) = (known_chain, args.epoch) {
        return Ok((chain_id, epoch));
    }
    let Some(url) = args.rpc_url.clone() else {
        let missing: Vec<&str> = [(known_chain.is_none(), "--chain-id"), (args.epoch.is_none(), "--epoch")]
            .into_iter()
            .filter_map(|(missing, flag)| missing.then_some(flag))
            .collect();
        return Err(CliError::InvalidInput(format!(
            "{} not given and no node to read {} from: pass {}, or --rpc-url (or ETH_RPC_URL) to take {} from \
             the node",
            missing.join(" and "),
            if missing.len() == 2 { "them" } else { "it" },
            missing.join(" and "),
            if missing.len() == 2 { "them" } else { "it" },
        )));
    };
    runtime()?.block_on(async {
        use alloy::{network::TransactionBuilder, providers::Provider, sol_types::SolCall};
        let provider = provider(url)?;
        let node = |method: &str, e: &dyn std::fmt::Display| {
            CliError::InvalidInput(format!("reading the grant's domain from the node: {method}: {e}"))
        };
        let chain_id = match known_chain {
            Some(id) => id,
            None => provider.get_chain_id().await.map_err(|e| node("eth_chainId", &e))?,
        };
        let epoch = match args.epoch {
            Some(epoch) => epoch,
            None => {
                let code = provider.get_code_at(args.module).await.map_err(|e| node("eth_getCode", &e))?;
                if code.is_empty() {
                    return Err(CliError::InvalidInput(format!(
                        "--module {}: no contract there on chain {chain_id}, so no epoch to read (is it the \
                         WarrantValidator's address on this chain?)",
                        args.module
                    )));
                }
                let call = warrant_core::grant::IWarrantValidator::epochOfCall { account };
                let tx = alloy::rpc::types::TransactionRequest::default()
                    .with_to(args.module)
                    .with_input(call.abi_encode());
                let out = provider.call(tx).await.map_err(|e| node("eth_call epochOf", &e))?;
                let epoch = warrant_core::grant::IWarrantValidator::epochOfCall::abi_decode_returns(&out)
                    .map_err(|e| node("epochOf's answer", &e))?;
                u64::try_from(epoch).map_err(|_| {
                    CliError::InvalidInput(format!(
                        "the module's epoch of {} is {epoch}, above 2^64",
                        account
                    ))
                })?
            }
        };
        if !args.json {
            eprintln!(
                "chain id {chain_id}{}, epoch {epoch}{} of {} at {}",
                if known_chain.is_none() { " (the node's)" } else { "" },
                if args.epoch.is_none() { " (the module's, on the node)" } else { "" },
                account,
                args.module
            );
        }
        Ok((chain_id, epoch))
    })
}

/// Probes the gates' tokens on the node before anything is signed: a gate a bundler would refuse is refused here.
fn probe(args: &GrantArgs, account: Address, scope: &Scope) -> Result<(), CliError> {
    if args.skip_gate_probe {
        eprintln!(
            "warning: --skip-gate-probe: the gates' tokens were not checked against ERC-7562; a token that reads \
             storage not keyed by the account (a proxy, for one) makes every operation fail at the bundler"
        );
        return Ok(());
    }
    let Some(url) = args.rpc_url.clone() else {
        return Err(CliError::InvalidInput(
            "--require-balance needs a node to probe the tokens on (--rpc-url or ETH_RPC_URL): a gate a bundler \
             can't read in validation would make every operation fail. Pass --skip-gate-probe to sign unprobed"
                .into(),
        ));
    };
    runtime()?.block_on(async {
        let provider = provider(url)?;
        let verdict = warrant_chain::gate::probe_gates(&provider, scope, account, args.module).await?;
        verdict.map_err(|e| CliError::InvalidInput(format!("not signed: {e}")))
    })
}
