//! Argument groups shared by the commands, and what they turn into: a node and bundler connection
//! (`--rpc-url`, `--bundler-url`), gas settings, the account's implementation, a signing key (`--key` or
//! `--private-key`), and a grant with one call of its session key.
//!
//! Flags follow Foundry's `cast`: `--rpc-url` / `ETH_RPC_URL`; the bundler is `--bundler-url` /
//! `WARRANT_BUNDLER_URL`.

use std::{path::PathBuf, time::Duration};

use alloy::{
    dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier},
    hex,
    json_abi::Function,
    primitives::{Address, Bytes},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use warrant_chain::bundler;
use warrant_client::{Client, ClientOptions, OwnerKey, UserOperationReceipt};
use warrant_core::{account::AccountKind, grant_json::SignedGrantJson, policy::Call, token::SignedGrant};
use warrant_keystore::Keystore;
use zeroize::Zeroizing;

use crate::{
    CliError,
    cmd::explain::parse_signatures,
    scope_spec::{parse_address, parse_amount},
};

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

impl NetArgs {
    /// Connects to the node and the bundler (checking they serve one chain).
    pub(crate) async fn connect(&self, gas: Option<&GasArgs>) -> Result<Client, CliError> {
        let options = ClientOptions {
            request_timeout: Duration::from_secs(self.rpc_timeout),
            verification_gas_headroom: gas
                .map_or(ClientOptions::default().verification_gas_headroom, |g| g.verification_gas_headroom),
            ..ClientOptions::default()
        };
        Ok(Client::connect(self.rpc_url.clone(), self.bundler_url.clone(), options).await?)
    }
}

/// Gas settings of a user operation.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GasArgs {
    /// Multiply the bundler's verificationGasLimit estimate by this (unused verification gas is not charged; it
    /// only raises the prefund). The default covers anvil's tracer, which under-reports a returned call's gas.
    #[arg(long, default_value_t = 3)]
    verification_gas_headroom: u64,
}

/// Which account implementation the account runs, for the parts that differ (nonce key, owner operations).
#[derive(Debug, clap::Args)]
pub(crate) struct AccountKindArgs {
    /// The account's implementation: warrant, nexus or kernel. Default: detected from its `accountId()`.
    #[arg(long, value_parser = parse_account_kind)]
    pub(crate) account_kind: Option<AccountKind>,
    /// The account's validator that holds the owner's key (owner operations on nexus).
    #[arg(long, value_parser = parse_address)]
    owner_validator: Option<Address>,
}

impl AccountKindArgs {
    /// The owner's key for owner operations of this account.
    pub(crate) fn owner<'a>(&self, key: &'a PrivateKeySigner) -> OwnerKey<'a> {
        OwnerKey { key, account_kind: self.account_kind, owner_validator: self.owner_validator }
    }
}

/// `warrant`, `nexus` or `kernel`.
pub(crate) fn parse_account_kind(name: &str) -> Result<AccountKind, String> {
    AccountKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = AccountKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown account kind {name:?} (known: {})", known.join(", "))
    })
}

/// A read-only provider for `url` with the default request timeout (for commands without [`NetArgs`]).
pub(crate) fn provider(url: Url) -> Result<DynProvider, CliError> {
    let client = bundler::http_client(url, bundler::DEFAULT_RPC_TIMEOUT)?;
    Ok(ProviderBuilder::new().connect_client(client).erased())
}

/// The single-threaded runtime the network commands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::InvalidInput(format!("cannot start the async runtime: {e}")))
}

/// Prints `value` as pretty JSON on stdout, with every address checksummed (EIP-55): alloy writes addresses in
/// lowercase, and a script comparing them to what it was given should not have to normalise case.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    fn checksum(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                if s.len() == 42
                    && let Ok(address) = s.parse::<Address>()
                    && s.starts_with("0x")
                {
                    *s = address.to_checksum(None);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(checksum),
            serde_json::Value::Object(map) => map.values_mut().for_each(checksum),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(value)?;
    checksum(&mut value);
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Prints a user operation's receipt (one line, or JSON); a failed execution's revert reason by name when the
/// SDK knows it (a token's error, say).
pub(crate) fn print_receipt(receipt: &UserOperationReceipt, json: bool) -> Result<(), CliError> {
    let reverted = (!receipt.success).then(|| receipt.named_reason());
    if json {
        print_json(&serde_json::json!({
                "userOpHash": receipt.user_op_hash,
                "success": receipt.success,
                "transactionHash": receipt.receipt.transaction_hash,
                "blockNumber": receipt.receipt.block_number.map(|n| n.to_string()),
                "actualGasUsed": receipt.actual_gas_used.to_string(),
                "actualGasCost": receipt.actual_gas_cost.to_string(),
                "revertRule": reverted.as_ref().and_then(|n| n.as_ref().map(|n| n.name)),
                "revertReason": reverted.as_ref().map(|n| match n {
                    Some(named) => named.to_string(),
                    None => receipt.reason.clone().unwrap_or_default(),
                }),
        }))?;
    } else {
        if let Some(reverted) = &reverted {
            eprintln!(
                "the operation's calls reverted: {}",
                match reverted {
                    Some(named) => named.to_string(),
                    None => format!("revert data {}", receipt.reason.as_deref().unwrap_or("(none)")),
                }
            );
        }
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

/// Where the keystore lives: `--keystore`, `$WARRANT_KEYSTORE`, else `~/.warrant/keystore`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KeystoreArgs {
    /// The keystore directory (default: ~/.warrant/keystore).
    #[arg(long, env = "WARRANT_KEYSTORE", global = true)]
    keystore: Option<PathBuf>,
}

impl KeystoreArgs {
    pub(crate) fn open(&self) -> Result<Keystore, CliError> {
        let dir = match &self.keystore {
            Some(dir) => dir.clone(),
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".warrant/keystore"))
                .ok_or_else(|| CliError::InvalidInput("HOME is not set: pass --keystore DIR".into()))?,
        };
        Ok(Keystore::open(dir)?)
    }
}

/// A signing key: a keystore entry (`--key NAME`) or a raw private key (`--private-key`, better through
/// `WARRANT_PRIVATE_KEY`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SignerArgs {
    /// Name of the key in the keystore.
    #[arg(long, conflicts_with = "private_key")]
    key: Option<String>,
    /// Raw private key (hex); prefer `--key`, or `WARRANT_PRIVATE_KEY` (read when neither --key nor
    /// --private-key is given, so an exported owner key does not get in the way of `--key` for another role).
    #[arg(long)]
    private_key: Option<String>,
    #[command(flatten)]
    keystore: KeystoreArgs,
}

impl SignerArgs {
    /// Unlocks the key (prompting for its password if needed).
    pub(crate) fn signer(&self, what: &str) -> Result<PrivateKeySigner, CliError> {
        match (&self.key, &self.private_key) {
            (Some(name), _) => {
                let keystore = self.keystore.open()?;
                keystore.info(name)?; // a missing key is reported before asking for a password
                let password = password(&format!("password for key {name:?}: "), false)?;
                Ok(keystore.unlock(name, password.as_bytes())?)
            }
            (None, Some(text)) => parse_private_key(text),
            (None, None) if std::env::var_os("WARRANT_PRIVATE_KEY").is_some() => {
                let text =
                    Zeroizing::new(std::env::var("WARRANT_PRIVATE_KEY").map_err(|_| {
                        CliError::InvalidInput("WARRANT_PRIVATE_KEY is not UTF-8 hex".into())
                    })?);
                parse_private_key(&text)
                    .map_err(|e| CliError::InvalidInput(format!("WARRANT_PRIVATE_KEY: {}", bare(e))))
            }
            (None, None) => Err(CliError::InvalidInput(format!(
                "no {what} key: pass --key NAME (keystore) or --private-key (or WARRANT_PRIVATE_KEY)"
            ))),
        }
    }
}

/// The message of an input error, without its "invalid input: " prefix.
fn bare(e: CliError) -> String {
    match e {
        CliError::InvalidInput(message) => message,
        other => other.to_string(),
    }
}

/// Parses a 32-byte hex private key, naming the problem without echoing the input.
pub(crate) fn parse_private_key(text: &str) -> Result<PrivateKeySigner, CliError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    let text = text.trim();
    hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut *bytes)
        .map_err(|_| CliError::InvalidInput("private key must be 32 bytes of hex".into()))?;
    PrivateKeySigner::from_slice(&*bytes)
        .map_err(|_| CliError::InvalidInput("private key is not a valid secp256k1 scalar".into()))
}

/// The keystore password: `WARRANT_PASSWORD`, else a prompt (twice when `confirm`).
pub(crate) fn password(prompt: &str, confirm: bool) -> Result<Zeroizing<String>, CliError> {
    if let Some(password) = std::env::var_os("WARRANT_PASSWORD") {
        let password = Zeroizing::new(
            password
                .into_string()
                .map_err(|_| CliError::InvalidInput("WARRANT_PASSWORD is not UTF-8".into()))?,
        );
        // As the prompt does: no key is stored (or opened) with an empty password.
        if password.is_empty() {
            return Err(CliError::InvalidInput(
                "WARRANT_PASSWORD is set but empty: refusing an empty password".into(),
            ));
        }
        return Ok(password);
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|_| {
            CliError::InvalidInput(
                "no password: there is no terminal to ask on; set the keystore password in the environment \
                 variable WARRANT_PASSWORD"
                    .into(),
            )
        })
    };
    let first = read(prompt)?;
    if confirm && *read("repeat the password: ")? != *first {
        return Err(CliError::InvalidInput("the two passwords differ".into()));
    }
    if first.is_empty() {
        return Err(CliError::InvalidInput("refusing an empty password".into()));
    }
    Ok(first)
}

/// Reads a signed grant: a `warrant1…` token, its JSON form, or a file holding either.
pub(crate) fn load_grant(input: &str) -> Result<SignedGrant, CliError> {
    let text = crate::input::file_or_text(input, "grant file")?;
    let text = text.trim();
    if text.starts_with('{') {
        let json: SignedGrantJson =
            serde_json::from_str(text).map_err(|e| CliError::InvalidInput(format!("grant JSON: {e}")))?;
        SignedGrant::try_from(json).map_err(|e| CliError::InvalidInput(format!("grant JSON: {e}")))
    } else {
        SignedGrant::from_token(text).map_err(|e| CliError::InvalidInput(format!("grant token: {e}")))
    }
}

/// A grant and one call of its session key, as `check` and `send` take them.
#[derive(Debug, clap::Args)]
pub(crate) struct GrantCallArgs {
    /// The grant: a `warrant1…` token, its JSON, or a file holding either.
    pub(crate) grant: String,
    #[command(flatten)]
    call: CallArgs,
}

impl GrantCallArgs {
    /// The parameter names of the call's `--sig`, for a denial's words ([`CallArgs::param_names`]).
    pub(crate) fn param_names(&self) -> Result<warrant_core::explain_denial::ParamNames, CliError> {
        self.call.param_names()
    }

    /// The grant and the call.
    pub(crate) fn load(&self) -> Result<(SignedGrant, Call), CliError> {
        Ok((load_grant(&self.grant)?, self.call.call()?))
    }
}

/// One call: `--to`, then `--sig` and arguments, `--data` or nothing (a plain transfer), and `--value`; what
/// `check` and `send` take after the grant, and what the service's `send` and `job create` send.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CallArgs {
    /// The call's target.
    #[arg(long, value_parser = parse_address)]
    to: Address,
    /// The function, e.g. `transfer(address,uint256)`; its arguments follow. Without it: --data or a plain
    /// transfer.
    #[arg(long, conflicts_with = "data")]
    sig: Option<String>,
    /// Raw calldata instead of --sig and arguments.
    #[arg(long)]
    data: Option<Bytes>,
    /// The function's arguments (negative numbers as they are: `-5`).
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    /// Native value sent with the call (e.g. `0.01ether`, or wei).
    #[arg(long, default_value = "0")]
    value: String,
}

impl CallArgs {
    /// The parameter names `--sig` gives (`transfer(address to,uint256 amount)`), by head word, for a denial's
    /// words. An unnamed parameter is `argN`, as grant rules name it, unless the function is one of the
    /// built-in table of `warrant_core::explain`, whose names (`to`, `amount`) say more.
    pub(crate) fn param_names(&self) -> Result<warrant_core::explain_denial::ParamNames, CliError> {
        Ok(parse_signatures(self.sig.as_slice())?
            .into_iter()
            .map(|s| {
                let known = warrant_core::explain::function_signature(s.selector).is_some();
                let named = s
                    .params
                    .iter()
                    .filter(|p| p.name.is_some() || !known)
                    .map(|p| (p.head, p.label()))
                    .collect();
                (s.selector, named)
            })
            .collect())
    }

    /// The call: `sig(args…)` encoded, raw `--data`, or a plain transfer.
    pub(crate) fn call(&self) -> Result<Call, CliError> {
        let data = call_data(self.sig.as_deref(), self.data.as_ref(), &self.args)?;
        let value = parse_amount(&self.value).map_err(|e| CliError::InvalidInput(format!("--value: {e}")))?;
        Ok(Call { target: self.to, value, data })
    }

    /// The call as the service's API takes it: `[{"to", "value" (decimal wei), "data" (hex)}]`.
    pub(crate) fn calls_json(&self) -> Result<serde_json::Value, CliError> {
        let call = self.call()?;
        Ok(serde_json::json!([{
            "to": call.target.to_checksum(None),
            "value": call.value.to_string(),
            "data": Bytes::from(call.data).to_string(),
        }]))
    }
}

/// Encodes `sig(args…)` with alloy's ABI coder, naming the argument that does not parse.
fn encode_call(sig: &str, args: &[String]) -> Result<Vec<u8>, CliError> {
    let function = Function::parse(sig).map_err(|e| CliError::InvalidInput(format!("--sig {sig:?}: {e}")))?;
    if function.inputs.len() != args.len() {
        return Err(CliError::InvalidInput(format!(
            "{sig} takes {} arguments, {} given",
            function.inputs.len(),
            args.len()
        )));
    }
    let values = function
        .inputs
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (param, arg))| {
            let ty: DynSolType =
                param.resolve().map_err(|e| CliError::InvalidInput(format!("argument {i}: {e}")))?;
            ty.coerce_str(arg)
                .map_err(|e| CliError::InvalidInput(format!("argument {i} ({ty}) {arg:?}: {e}")))
        })
        .collect::<Result<Vec<DynSolValue>, _>>()?;
    function.abi_encode_input(&values).map_err(|e| CliError::InvalidInput(format!("{sig}: {e}")))
}

/// The call's data: `sig(args…)` encoded, raw `--data`, or empty (a plain transfer).
pub(crate) fn call_data(
    sig: Option<&str>,
    data: Option<&Bytes>,
    args: &[String],
) -> Result<Vec<u8>, CliError> {
    match (sig, data) {
        (Some(sig), _) => encode_call(sig, args),
        (None, Some(data)) if args.is_empty() => Ok(data.to_vec()),
        (None, None) if args.is_empty() => Ok(Vec::new()),
        _ => Err(CliError::InvalidInput("arguments given without --sig".into())),
    }
}

/// A spinner on stderr while waiting, when stderr is a terminal.
pub(crate) fn spinner(message: String) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    })
}

/// Where a running Warrant service is, and the API token to call it with (`warrant service …`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServiceArgs {
    /// The service's base URL.
    #[arg(long, env = "WARRANT_SERVICE_URL", default_value = "http://127.0.0.1:8645", global = true)]
    pub(crate) service_url: Url,
    /// An API token of the service (`wst_…`); better through `WARRANT_SERVICE_TOKEN` than on the command line.
    #[arg(long, env = "WARRANT_SERVICE_TOKEN", hide_env_values = true, global = true)]
    pub(crate) service_token: Option<String>,
    /// Seconds one request to the service may take.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub(crate) service_timeout: u64,
}
