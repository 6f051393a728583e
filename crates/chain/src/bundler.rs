//! A client of an ERC-4337 bundler's JSON-RPC interface (ERC-7769) for EntryPoint v0.8, over alloy's JSON-RPC
//! client: `eth_sendUserOperation` (with an optional EIP-7702 authorization, `eip7702Auth`),
//! `eth_estimateUserOperationGas`, `eth_getUserOperationReceipt`, `eth_supportedEntryPoints`, and Pimlico's
//! `pimlico_getUserOperationGasPrice`. Refusals come back as [`BundlerRpcError`], with the ERC-7769 code decoded
//! and, when an account or module reverted in validation, the revert data and Warrant's rule recovered from it.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, Bytes, U128, U256, address, hex},
    rpc::{
        client::RpcClient,
        json_rpc::{RpcRecv, RpcSend},
        types::{Log, TransactionReceipt},
    },
    sol_types::SolInterface,
    transports::{TransportErrorKind, http::reqwest::Url},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warrant_core::{IEntryPoint, UserOperation, grant::WarrantErrors};

use crate::ChainError;

/// The EIP-7702 initCode marker (`0x7702` padded to 20 bytes) as the `factory` of a [`UserOperation`].
pub const EIP7702_FACTORY: Address = address!("0x7702000000000000000000000000000000000000");

/// How often [`BundlerClient::wait_for_receipt`] asks for a receipt.
const RECEIPT_POLL: Duration = Duration::from_millis(250);

/// How long one request to a bundler or node may take by default (as `cast`'s `--rpc-timeout`): a server that
/// accepts the connection and never answers ends in a clear error instead of a hang.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(45);

/// An HTTP JSON-RPC client whose every request (connect included) ends after `timeout`.
pub fn http_client(url: Url, timeout: Duration) -> Result<RpcClient, ChainError> {
    let http = alloy::transports::http::reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| ChainError::Transport { method: "connect".into(), reason: e.to_string() })?;
    let is_local = url.host_str().is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "::1");
    Ok(RpcClient::new(alloy::transports::http::Http::with_client(http, url), is_local))
}

/// `text` with every URL in it cut to its scheme, host and port: RPC providers put API keys in the path
/// (`https://host/v3/KEY`), the query (`?apikey=KEY`) or the user info (`https://user:KEY@host`), and errors
/// quote the URL they failed on. What was cut is marked `…` (`https://host/…`).
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["http://", "https://", "ws://", "wss://"].iter().filter_map(|s| rest.find(s)).min()
    {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>' | ',' | ']' | '}'))
            .unwrap_or(tail.len());
        let (candidate, after) = tail.split_at(end);
        match Url::parse(candidate) {
            Ok(url) => {
                let host = url.host_str().unwrap_or("");
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                let secret_part = !url.username().is_empty()
                    || url.password().is_some()
                    || url.query().is_some()
                    || url.fragment().is_some()
                    || !matches!(url.path(), "" | "/");
                out.push_str(&format!(
                    "{}://{host}{port}{}",
                    url.scheme(),
                    if secret_part { "/…" } else { "" }
                ));
            }
            // Not a URL after all: keep only its scheme, in case the rest is a key.
            Err(_) => out.push_str(&candidate[..candidate.find("//").map_or(0, |i| i + 2)]),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A transport error as a [`ChainError`]: [`ChainError::Timeout`] when the request ran out of time (anywhere in
/// its error chain), else [`ChainError::Transport`], with any URL in the message redacted ([`redact_urls`]).
pub fn transport_error(method: &str, e: &(dyn std::error::Error + 'static), timeout: Duration) -> ChainError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        let reqwest_timeout =
            c.downcast_ref::<alloy::transports::http::reqwest::Error>().is_some_and(|r| r.is_timeout());
        if reqwest_timeout || c.to_string().contains("timed out") {
            return ChainError::Timeout {
                what: format!("an answer to {method}"),
                seconds: timeout.as_secs(),
            };
        }
        cause = c.source();
    }
    ChainError::Transport { method: method.into(), reason: redact_urls(&e.to_string()) }
}

/// The ERC-7769 error codes a bundler answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundlerErrorKind {
    /// -32602: invalid fields (bad gas values, fees below the bundler's price, malformed op, bad `eip7702Auth`).
    InvalidFields,
    /// -32500: rejected by the EntryPoint's simulation during account creation or validation (`AAxx`).
    SimulateValidation,
    /// -32501: rejected by the paymaster's validation.
    SimulatePaymasterValidation,
    /// -32502: an ERC-7562 rule was broken (banned opcode, storage access, …).
    OpcodeValidation,
    /// -32503: out of its time range, or expiring too soon.
    ExpiresShortly,
    /// -32504: an entity is throttled or banned.
    Reputation,
    /// -32505: an entity's stake is too low for what it did.
    InsufficientStake,
    /// -32506: unsupported signature aggregator.
    UnsupportedSignatureAggregator,
    /// -32507: the signature check failed (`AA24`/`AA34`).
    InvalidSignature,
    /// -32508: the paymaster's deposit is too low.
    PaymasterDepositTooLow,
    /// -32521: the operation reverted in execution (estimation).
    UserOperationReverted,
    /// Any other code.
    Other(i64),
}

impl BundlerErrorKind {
    /// The kind of an ERC-7769 error code.
    pub fn from_code(code: i64) -> Self {
        match code {
            -32602 => Self::InvalidFields,
            -32500 => Self::SimulateValidation,
            -32501 => Self::SimulatePaymasterValidation,
            -32502 => Self::OpcodeValidation,
            -32503 => Self::ExpiresShortly,
            -32504 => Self::Reputation,
            -32505 => Self::InsufficientStake,
            -32506 => Self::UnsupportedSignatureAggregator,
            -32507 => Self::InvalidSignature,
            -32508 => Self::PaymasterDepositTooLow,
            -32521 => Self::UserOperationReverted,
            other => Self::Other(other),
        }
    }
}

/// A bundler's refusal of a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{method} refused by the bundler ({code}, {kind:?}): {message}")]
pub struct BundlerRpcError {
    /// The JSON-RPC method.
    pub method: String,
    /// The JSON-RPC error code.
    pub code: i64,
    /// The code's ERC-7769 meaning.
    pub kind: BundlerErrorKind,
    /// The bundler's message.
    pub message: String,
    /// The error's `data` member, as JSON text, if any.
    pub data: Option<String>,
}

impl BundlerRpcError {
    /// Every hex string of at least a selector's length found in the message and the data, in order: the
    /// candidates for revert data (bundlers embed it in the message text, e.g. `AA23 reverted 0x…`).
    pub fn hex_blobs(&self) -> Vec<Bytes> {
        let mut out = Vec::new();
        for text in std::iter::once(self.message.as_str()).chain(self.data.as_deref()) {
            let bytes = text.as_bytes();
            let mut i = 0;
            while i + 1 < bytes.len() {
                if bytes[i] == b'0' && bytes[i + 1] == b'x' {
                    let start = i + 2;
                    let mut end = start;
                    while end < bytes.len() && bytes[end].is_ascii_hexdigit() {
                        end += 1;
                    }
                    if end - start >= 8
                        && (end - start) % 2 == 0
                        && let Ok(blob) = hex::decode(&text[start..end])
                    {
                        out.push(Bytes::from(blob));
                    }
                    i = end;
                } else {
                    i += 1;
                }
            }
        }
        out
    }

    /// The `WarrantValidator` rule that refused the operation, decoded from the revert data the bundler passed
    /// on (directly, or as the inner data of the EntryPoint's `FailedOpWithRevert`).
    pub fn warrant_rule(&self) -> Option<WarrantErrors::WarrantErrorsErrors> {
        self.hex_blobs().iter().find_map(|blob| decode_warrant_rule(blob))
    }

    /// The name of the refusing rule (the Solidity custom error's name), if one was recovered.
    pub fn warrant_rule_name(&self) -> Option<&'static str> {
        let rule = self.warrant_rule()?;
        WarrantErrors::WarrantErrorsErrors::name_by_selector(rule.selector())
    }

    /// The refusing rule as the pre-flight's [`warrant_core::policy::Denial`] of the same name, if one was
    /// recovered.
    pub fn denial(&self) -> Option<warrant_core::policy::Denial> {
        warrant_core::policy::Denial::from_revert_data(&self.warrant_rule()?.abi_encode())
    }
}

impl BundlerRpcError {
    /// The refusal by name, whatever refused: the validator's rule (as [`Self::denial`]), a token's error or the
    /// EntryPoint's `AAxx` check found in the revert data, else an `AAxx` code quoted in the message. `None` when
    /// the bundler's answer names nothing the SDK knows (bad fields, a fee below its price, …).
    pub fn named(&self) -> Option<warrant_core::revert::NamedRevert> {
        use warrant_core::revert::{NamedRevert, entry_point_rule, name_revert};
        if let Some(denial) = self.denial() {
            return Some(NamedRevert { name: denial.name(), detail: denial.to_string() });
        }
        if let Some(named) = self.hex_blobs().iter().find_map(|blob| name_revert(blob)) {
            return Some(named);
        }
        let (code, name, meaning) = entry_point_rule(&self.message)?;
        Some(NamedRevert { name, detail: format!("{code}: {meaning}") })
    }
}

impl UserOperationReceipt {
    /// The revert reason of a failed execution by name (a token's error, one of the validator's), if the SDK
    /// knows it.
    pub fn named_reason(&self) -> Option<warrant_core::revert::NamedRevert> {
        let data = hex::decode(self.reason.as_deref()?.trim()).ok()?;
        warrant_core::revert::name_revert(&data)
    }
}

fn decode_warrant_rule(data: &[u8]) -> Option<WarrantErrors::WarrantErrorsErrors> {
    if let Ok(rule) = WarrantErrors::WarrantErrorsErrors::abi_decode(data) {
        return Some(rule);
    }
    match IEntryPoint::IEntryPointErrors::abi_decode(data).ok()? {
        IEntryPoint::IEntryPointErrors::FailedOpWithRevert(failed) => decode_warrant_rule(&failed.inner),
        IEntryPoint::IEntryPointErrors::FailedOp(_) => None,
    }
}

/// The JSON object of `eth_sendUserOperation` for `op` (its ERC-7769 wire form). The EIP-7702 initCode marker
/// goes on the wire as the short factory `0x7702`, the form bundlers accept next to `eip7702Auth`, whose `r` and
/// `s` are written as 32-byte words.
pub fn wire_json(op: &UserOperation) -> Result<Value, ChainError> {
    let mut value = serde_json::to_value(op).map_err(|e| ChainError::Transport {
        method: "eth_sendUserOperation".into(),
        reason: format!("cannot serialize the user operation: {e}"),
    })?;
    if op.factory == Some(EIP7702_FACTORY) {
        value["factory"] = Value::String("0x7702".into());
    }
    if let Some(auth) = &op.eip7702_auth {
        value["eip7702Auth"] = serde_json::json!({
            "address": auth.address,
            "chainId": format!("{:#x}", auth.chain_id),
            "nonce": format!("{:#x}", auth.nonce),
            "r": B256::from(auth.r()),
            "s": B256::from(auth.s()),
            "yParity": format!("{:#x}", auth.y_parity()),
        });
    }
    Ok(value)
}

/// Gas limits a bundler estimates for an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationGasEstimate {
    /// Gas paid for the bundle overhead.
    pub pre_verification_gas: U256,
    /// Gas for creation and validation.
    pub verification_gas_limit: U256,
    /// Gas for execution.
    pub call_gas_limit: U256,
    /// Gas for the paymaster's validation.
    #[serde(default)]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// Gas for the paymaster's `postOp`.
    #[serde(default)]
    pub paymaster_post_op_gas_limit: Option<U256>,
}

impl UserOperationGasEstimate {
    /// Sets `op`'s gas limits to these.
    pub fn apply(&self, op: &mut UserOperation) {
        op.pre_verification_gas = self.pre_verification_gas;
        op.verification_gas_limit = U128::saturating_from(self.verification_gas_limit);
        op.call_gas_limit = U128::saturating_from(self.call_gas_limit);
        if op.paymaster.is_some() {
            op.paymaster_verification_gas_limit =
                self.paymaster_verification_gas_limit.map(U128::saturating_from);
            op.paymaster_post_op_gas_limit = self.paymaster_post_op_gas_limit.map(U128::saturating_from);
        }
    }
}

/// EIP-1559 fees for a user operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationGasPrice {
    /// maxFeePerGas.
    pub max_fee_per_gas: U128,
    /// maxPriorityFeePerGas.
    pub max_priority_fee_per_gas: U128,
}

#[derive(Debug, Deserialize)]
struct GasPriceTiers {
    standard: UserOperationGasPrice,
}

/// The receipt of an included user operation (`eth_getUserOperationReceipt`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationReceipt {
    /// The operation's hash.
    pub user_op_hash: B256,
    /// The EntryPoint that ran it.
    pub entry_point: Address,
    /// The account.
    pub sender: Address,
    /// The operation's nonce.
    pub nonce: U256,
    /// The paymaster, if any.
    #[serde(default)]
    pub paymaster: Option<Address>,
    /// What the operation paid, in wei.
    pub actual_gas_cost: U256,
    /// The gas it was charged for.
    pub actual_gas_used: U256,
    /// Whether its execution succeeded.
    pub success: bool,
    /// The revert reason of a failed execution.
    #[serde(default)]
    pub reason: Option<String>,
    /// The logs the operation emitted.
    pub logs: Vec<Log>,
    /// The bundle transaction's receipt.
    pub receipt: TransactionReceipt,
}

/// The JSON-RPC error carried in the body of an HTTP error response; its code is -32603 (internal error) when
/// the body has none.
fn http_refusal(method: &str, status: u16, body: &str) -> Option<BundlerRpcError> {
    let error = serde_json::from_str::<Value>(body).ok()?.get("error")?.clone();
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(-32603);
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    Some(BundlerRpcError {
        method: method.into(),
        code,
        kind: BundlerErrorKind::from_code(code),
        message: format!("HTTP {status}: {message}"),
        data: error.get("data").map(Value::to_string),
    })
}

/// A client of one bundler, for one EntryPoint.
#[derive(Clone, Debug)]
pub struct BundlerClient {
    client: RpcClient,
    entry_point: Address,
    timeout: Duration,
}

impl BundlerClient {
    /// A client of the bundler at `url` (HTTP), sending operations for `entry_point`, with
    /// [`DEFAULT_RPC_TIMEOUT`] per request.
    pub fn new(url: Url, entry_point: Address) -> Self {
        // Building a reqwest client fails only when its TLS backend can't start; alloy's default client then.
        let client =
            http_client(url.clone(), DEFAULT_RPC_TIMEOUT).unwrap_or_else(|_| RpcClient::new_http(url));
        Self { client, entry_point, timeout: DEFAULT_RPC_TIMEOUT }
    }

    /// A client whose every request ends after `timeout` ([`ChainError::Timeout`]).
    pub fn with_timeout(url: Url, entry_point: Address, timeout: Duration) -> Result<Self, ChainError> {
        Ok(Self { client: http_client(url, timeout)?, entry_point, timeout })
    }

    /// The EntryPoint operations are sent for.
    pub fn entry_point(&self) -> Address {
        self.entry_point
    }

    async fn request<P: RpcSend, R: RpcRecv>(
        &self,
        method: &'static str,
        params: P,
    ) -> Result<R, ChainError> {
        self.client.request(method, params).await.map_err(|e| {
            if let Some(payload) = e.as_error_resp() {
                return ChainError::Bundler(BundlerRpcError {
                    method: method.into(),
                    code: payload.code,
                    kind: BundlerErrorKind::from_code(payload.code),
                    message: payload.message.to_string(),
                    data: payload.data.as_ref().map(|d| d.get().to_owned()),
                });
            }
            // Some bundlers answer a refusal with an HTTP error status and a JSON-RPC error body.
            if let Some(TransportErrorKind::HttpError(http)) = e.as_transport_err()
                && let Some(refusal) = http_refusal(method, http.status, &http.body)
            {
                return ChainError::Bundler(refusal);
            }
            transport_error(method, &e, self.timeout)
        })
    }

    /// `eth_supportedEntryPoints`.
    pub async fn supported_entry_points(&self) -> Result<Vec<Address>, ChainError> {
        self.request("eth_supportedEntryPoints", ()).await
    }

    /// `eth_chainId` of the bundler.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        let id: U256 = self.request("eth_chainId", ()).await?;
        u64::try_from(id).map_err(|_| ChainError::Transport {
            method: "eth_chainId".into(),
            reason: format!("chain id {id} does not fit in 64 bits"),
        })
    }

    /// `eth_estimateUserOperationGas`. The operation is simulated as given, so its signature must already pass
    /// (sign it over the limits it carries, then sign again after applying the estimate).
    pub async fn estimate_user_operation_gas(
        &self,
        op: &UserOperation,
    ) -> Result<UserOperationGasEstimate, ChainError> {
        self.request("eth_estimateUserOperationGas", (wire_json(op)?, self.entry_point)).await
    }

    /// `eth_sendUserOperation`: the bundler simulates the operation (with ERC-7562 tracing in safe mode) and
    /// adds it to its mempool. Returns the `userOpHash`.
    pub async fn send_user_operation(&self, op: &UserOperation) -> Result<B256, ChainError> {
        self.request("eth_sendUserOperation", (wire_json(op)?, self.entry_point)).await
    }

    /// `eth_getUserOperationReceipt`: `None` while the operation is not included.
    pub async fn get_user_operation_receipt(
        &self,
        hash: B256,
    ) -> Result<Option<UserOperationReceipt>, ChainError> {
        self.request("eth_getUserOperationReceipt", (hash,)).await
    }

    /// Polls [`Self::get_user_operation_receipt`] until the operation is included or `timeout` passes.
    pub async fn wait_for_receipt(
        &self,
        hash: B256,
        timeout: Duration,
    ) -> Result<UserOperationReceipt, ChainError> {
        let start = Instant::now();
        loop {
            if let Some(receipt) = self.get_user_operation_receipt(hash).await? {
                return Ok(receipt);
            }
            if start.elapsed() > timeout {
                return Err(ChainError::Timeout {
                    what: format!("the receipt of user operation {hash}"),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(RECEIPT_POLL).await;
        }
    }

    /// The bundler's `standard` fees (`pimlico_getUserOperationGasPrice`, an extension of Pimlico's bundlers).
    pub async fn user_operation_gas_price(&self) -> Result<UserOperationGasPrice, ChainError> {
        let tiers: GasPriceTiers = self.request("pimlico_getUserOperationGasPrice", ()).await?;
        Ok(tiers.standard)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_keys_in_urls_are_redacted() {
        let text = "error sending request for url (https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef): \
                    connect; also https://eth.example.com/?apikey=SECRETKEY and https://user:pw@host.example:8545/x, \
                    plain http://127.0.0.1:8545 and http://localhost:8545/";
        let redacted = super::redact_urls(text);
        for secret in ["0123456789abcdef", "SECRETKEY", "pw@", "user", "/x"] {
            assert!(!redacted.contains(secret), "{secret} left in {redacted}");
        }
        assert!(redacted.contains("(https://mainnet.infura.io/…)"), "{redacted}");
        assert!(redacted.contains("https://eth.example.com/…"), "{redacted}");
        assert!(redacted.contains("https://host.example:8545/…"), "{redacted}");
        assert!(redacted.contains("plain http://127.0.0.1:8545 and http://localhost:8545"), "{redacted}");
        assert_eq!(super::redact_urls("no url here"), "no url here");
    }

    use super::*;
    use alloy::sol_types::SolError;
    use warrant_core::constants::EIP7702_INITCODE_MARKER;

    fn error(message: &str, data: Option<&str>) -> BundlerRpcError {
        BundlerRpcError {
            method: "eth_sendUserOperation".into(),
            code: -32500,
            kind: BundlerErrorKind::from_code(-32500),
            message: message.into(),
            data: data.map(str::to_owned),
        }
    }

    #[test]
    fn recovers_the_rule_from_the_message_and_from_failed_op_with_revert() {
        let rule = WarrantErrors::CallNotPermitted {
            index: U256::ZERO,
            target: Address::with_last_byte(7),
            selector: Default::default(),
        };
        let data = hex::encode_prefixed(rule.abi_encode());
        let e = error(
            &format!("UserOperation reverted during simulation with reason: AA23 reverted {data}"),
            None,
        );
        assert_eq!(e.warrant_rule_name(), Some("CallNotPermitted"));
        assert_eq!(
            e.warrant_rule(),
            Some(WarrantErrors::WarrantErrorsErrors::CallNotPermitted(rule.clone()))
        );

        let wrapped = IEntryPoint::FailedOpWithRevert {
            opIndex: U256::ZERO,
            reason: "AA23 reverted".into(),
            inner: rule.abi_encode().into(),
        };
        let e =
            error("validation failed", Some(&format!("\"{}\"", hex::encode_prefixed(wrapped.abi_encode()))));
        assert_eq!(e.warrant_rule(), Some(WarrantErrors::WarrantErrorsErrors::CallNotPermitted(rule)));

        assert_eq!(error("AA24 signature error", None).warrant_rule(), None);
        assert_eq!(BundlerErrorKind::from_code(-32502), BundlerErrorKind::OpcodeValidation);
        assert_eq!(BundlerErrorKind::from_code(-1), BundlerErrorKind::Other(-1));
    }

    #[test]
    fn wire_form_uses_the_short_7702_factory_and_hex_authorization_fields() {
        assert_eq!(EIP7702_FACTORY[..2], EIP7702_INITCODE_MARKER);
        let mut op = UserOperation { factory: Some(EIP7702_FACTORY), ..Default::default() };
        op.eip7702_auth = Some(
            alloy::eips::eip7702::Authorization {
                chain_id: U256::from(31337),
                address: Address::with_last_byte(9),
                nonce: 3,
            }
            .into_signed(alloy::primitives::Signature::new(U256::from(1), U256::from(2), true)),
        );
        let json = wire_json(&op).unwrap();
        assert_eq!(json["factory"], "0x7702");
        assert_eq!(json["eip7702Auth"]["chainId"], "0x7a69");
        assert_eq!(json["eip7702Auth"]["nonce"], "0x3");
        assert_eq!(json["eip7702Auth"]["yParity"], "0x1");
        assert_eq!(json["eip7702Auth"]["r"], format!("0x{}", "00".repeat(31) + "01"));
        assert!(json.get("factoryData").is_none());
    }
}
