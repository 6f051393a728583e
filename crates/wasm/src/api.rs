//! The browser API as plain Rust over JSON values, so the host tests exercise exactly what the page calls; the
//! `#[wasm_bindgen]` layer in `lib.rs` only moves strings and turns [`ApiError`] into a JS `Error`.
//!
//! Every shape is the stable JSON form of `warrant_core::grant_json` (camelCase, EIP-55 addresses, decimal
//! strings for integers wider than 48 bits) or the ERC-7769 wire form of a user operation.

use alloy_primitives::{Address, B256, Bytes, U256, hex, keccak256};
use alloy_sol_types::{SolCall, SolStruct, SolValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warrant_core::{
    CoreError, IEntryPoint, UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    explain::{TokenHints, TokenInfo, explain_signed_grant},
    explain_denial::{DenialContext, ParamNames, denial_message},
    grant::{Grant, IWarrantValidator, Session, enable_signature, use_signature, validator_domain},
    grant_json::{Dec, GrantJson, SessionJson, SignedGrantJson},
    p256::{P256Key, P256Kind},
    policy::{
        Call, Denial, OpCheck, Presentation, SessionStatus, SessionUsage, SpendUsage, check_op_time,
        check_operation, execute_calls, spend_status,
    },
    session_op::{EIP7702_MARKER, GasFields, SessionOp},
    token::SignedGrant,
};

/// An error as the page sees it: `kind` says where it comes from, `rule` names the validator rule (the
/// `Denial` name, the Solidity custom error's) when one refused, `message` is the full sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// `"denial"` (a rule refused), `"input"` (malformed input), `"token"` (a grant token was refused) or
    /// `"core"` (another refusal of warrant-core, e.g. a grant for another account).
    pub kind: &'static str,
    /// The rule's name, for a denial.
    pub rule: Option<&'static str>,
    /// What went wrong, in words.
    pub message: String,
}

impl ApiError {
    fn input(message: impl Into<String>) -> Self {
        Self { kind: "input", rule: None, message: message.into() }
    }
}

impl From<Denial> for ApiError {
    fn from(d: Denial) -> Self {
        Self { kind: "denial", rule: Some(d.name()), message: d.to_string() }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidScope(d) => {
                Self { kind: "denial", rule: Some(d.name()), message: format!("grant not signed: {d}") }
            }
            CoreError::GrantToken(t) => Self { kind: "token", rule: None, message: t.to_string() },
            other => Self { kind: "core", rule: None, message: other.to_string() },
        }
    }
}

/// Results of this module.
pub type ApiResult<T> = Result<T, ApiError>;

fn parse<T: serde::de::DeserializeOwned>(what: &str, v: &Value) -> ApiResult<T> {
    serde_json::from_value(v.clone()).map_err(|e| ApiError::input(format!("{what}: {e}")))
}

fn parse_str<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(|e| ApiError::input(format!("{what}: {e}")))
}

fn address(what: &str, s: &str) -> ApiResult<Address> {
    s.parse().map_err(|_| ApiError::input(format!("{what}: {s:?} is not an address (0x and 40 hex digits)")))
}

fn bytes(what: &str, s: &str) -> ApiResult<Bytes> {
    s.parse().map_err(|_| ApiError::input(format!("{what}: {s:?} is not 0x-prefixed hex")))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("the API's own types serialize")
}

/// The JSON value of `text`, or an input error naming `what`.
pub fn json_arg(what: &str, text: &str) -> ApiResult<Value> {
    parse_str(what, text)
}

fn grant_of(v: &Value) -> ApiResult<Grant> {
    Ok(parse::<GrantJson>("grant", v)?.into())
}

fn session_of(v: &Value) -> ApiResult<Session> {
    Ok(parse::<SessionJson>("session", v)?.into())
}

fn signed_of(v: &Value) -> ApiResult<SignedGrant> {
    Ok(SignedGrant::try_from(parse::<SignedGrantJson>("signed grant", v)?)?)
}

/// A P-256 session key in JSON: `{ kind: 1 | 2, publicKey: "0x04…" }` (1 raw, 2 WebCrypto).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SessionKeyJson {
    kind: u8,
    public_key: Bytes,
}

fn p256_key(kind: u8, public_key: &[u8]) -> ApiResult<P256Key> {
    let kind = P256Kind::from_byte(kind)
        .ok_or_else(|| ApiError::input(format!("P-256 key kind {kind}: 1 (raw) or 2 (WebCrypto)")))?;
    Ok(P256Key::from_uncompressed(kind, public_key)?)
}

/// The optional session key argument (`null` for a secp256k1 session key).
fn session_key_of(v: &Value) -> ApiResult<Option<P256Key>> {
    if v.is_null() {
        return Ok(None);
    }
    let k: SessionKeyJson = parse("session key", v)?;
    p256_key(k.kind, &k.public_key).map(Some)
}

fn session_key_json(key: &Option<P256Key>) -> Value {
    match key {
        Some(k) => {
            json!({ "kind": k.kind.byte(), "publicKey": Bytes::copy_from_slice(&k.to_uncompressed()) })
        }
        None => Value::Null,
    }
}

fn with_key(signed: SignedGrant, key: Option<P256Key>) -> ApiResult<SignedGrant> {
    match key {
        Some(k) => signed.with_session_key(k).map_err(|e| CoreError::from(e).into()),
        None => Ok(signed),
    }
}

/// The session signer of a P-256 public key (`0x04 ‖ x ‖ y`): `keccak256(kind ‖ x ‖ y)`'s low 20 bytes.
pub fn p256_signer(kind: u8, public_key: &str) -> ApiResult<Address> {
    Ok(p256_key(kind, &bytes("public key", public_key)?)?.signer())
}

/// The 129-byte session signature `kind ‖ x ‖ y ‖ r ‖ s` from a 64-byte `r ‖ s` (WebCrypto's IEEE P1363
/// form), `s` normalised to the low half.
pub fn p256_session_signature(kind: u8, public_key: &str, rs: &str) -> ApiResult<Bytes> {
    let key = p256_key(kind, &bytes("public key", public_key)?)?;
    let rs = bytes("signature", rs)?;
    if rs.len() != 64 {
        return Err(ApiError::input(format!(
            "signature: {} bytes, WebCrypto's ECDSA P-256 r ‖ s has 64",
            rs.len()
        )));
    }
    let (r, s) = rs.split_at(32);
    Ok(key.session_signature(r.try_into().expect("32 bytes"), s.try_into().expect("32 bytes"))?)
}

// ---------------------------------------------------------------------------------------------------------------
// Grant tokens, explain, validation.

/// A grant token read: `{ signedGrant, sessionId, sessionKey }` (`sessionKey` the P-256 key a version 4 token
/// carries, else `null`).
pub fn read_token(token: &str) -> ApiResult<Value> {
    let signed = SignedGrant::from_token(token.trim()).map_err(CoreError::from)?;
    Ok(json!({
        "signedGrant": to_value(&SignedGrantJson::from(&signed)),
        "sessionId": signed.session_id(),
        "sessionKey": session_key_json(&signed.session_key),
    }))
}

/// The token of a signed grant, carrying its P-256 session key when one is given (it must be the session's
/// signer).
pub fn encode_token(signed: &Value, session_key: &Value) -> ApiResult<String> {
    let signed = with_key(signed_of(signed)?, session_key_of(session_key)?)?;
    signed.to_token().map_err(|e| CoreError::from(e).into())
}

/// Token hints, `{ ADDRESS: { symbol, decimals } }` (anything but an object: none).
fn hints_of(hints: &Value) -> ApiResult<TokenHints> {
    let mut tokens = TokenHints::new();
    if let Some(map) = hints.as_object() {
        for (addr, info) in map {
            let decimals = info.get("decimals").and_then(Value::as_u64).and_then(|d| u8::try_from(d).ok());
            let Some(decimals) = decimals else {
                return Err(ApiError::input(format!(
                    "token hint {addr}: decimals must be a number up to 255"
                )));
            };
            let symbol = info.get("symbol").and_then(Value::as_str).map(str::to_owned);
            tokens.insert(address("token hint", addr)?, TokenInfo { symbol, decimals });
        }
    }
    Ok(tokens)
}

/// The grant in plain words (`warrant_core::explain`), naming its P-256 session key when one is given; `hints`
/// maps token addresses to `{ symbol, decimals }`.
pub fn explain(grant: &Value, hints: &Value, session_key: &Value) -> ApiResult<String> {
    let grant = grant_of(grant)?;
    let session_key = session_key_of(session_key)?;
    let tokens = hints_of(hints)?;
    // Explained before the owner signs: no owner signature, no module or chain (explain names neither).
    let signed =
        SignedGrant { chain_id: 0, module: Address::ZERO, grant, owner_signature: Bytes::new(), session_key };
    Ok(explain_signed_grant(&signed, &tokens))
}

/// What `sign_grant` refuses before signing, without signing: zero chain id, module, account or session key, and a
/// scope the validator would refuse (the rule named).
pub fn validate_grant(grant: &Value, module: &str, chain_id: u64) -> ApiResult<()> {
    let grant = grant_of(grant)?;
    let module = address("module", module)?;
    for (zero, field) in [
        (chain_id == 0, "the chain id is 0 (a grant binds one chain)"),
        (module == Address::ZERO, "the module is address 0"),
        (grant.account == Address::ZERO, "the account is address 0"),
        (grant.session.signer == Address::ZERO, "the session key is address 0"),
    ] {
        if zero {
            return Err(CoreError::InvalidGrant(field.into()).into());
        }
    }
    grant.session.scope.validate().map_err(|d| CoreError::InvalidScope(d).into())
}

/// The session id (`sessionId(account, session)`).
pub fn session_id(session: &Value, account: &str) -> ApiResult<B256> {
    Ok(session_of(session)?.id(address("account", account)?))
}

// ---------------------------------------------------------------------------------------------------------------
// The owner's signature: ERC-7739 typed data for eth_signTypedData_v4.

/// The `TypedDataSign` field list of ERC-7739 (after `contents`): the account's own EIP-712 domain.
const TYPED_DATA_SIGN_FIELDS: &str =
    "string name,string version,uint256 chainId,address verifyingContract,bytes32 salt";

/// `Grant`'s referenced struct definitions, `(name, definition)`, from the `sol!` encodeType (so they can't
/// drift from the hash the validator computes).
fn grant_components() -> Vec<(String, String)> {
    let encoded = Grant::eip712_encode_type();
    encoded
        .split_inclusive(')')
        .map(|def| (def[..def.find('(').unwrap_or(0)].to_owned(), def.to_owned()))
        .collect()
}

/// The definitions sorted by name, as EIP-712 `encodeType` appends the types a primary type references: this is
/// the `contentsType` of ERC-7739's explicit mode, the one a wallet's `eth_signTypedData_v4` hashes with.
fn sorted_contents_type() -> String {
    let mut parts = grant_components();
    parts.sort();
    parts.into_iter().map(|(_, def)| def).collect()
}

/// ERC-7739 explicit-mode `contentsDescr`: `contentsType ‖ "Grant"`.
fn contents_descr() -> String {
    format!("{}Grant", sorted_contents_type())
}

/// The digest a standard wallet signs for [`grant_typed_data`]: `keccak256(0x1901 ‖ validatorSeparator ‖
/// hashStruct(TypedDataSign))`, with the referenced types in EIP-712 order (explicit mode).
pub fn grant_typed_data_digest(grant: &Grant, module: Address, chain_id: u64) -> B256 {
    let typehash = keccak256(
        format!("TypedDataSign(Grant contents,{TYPED_DATA_SIGN_FIELDS}){}", sorted_contents_type())
            .as_bytes(),
    );
    let domain =
        (keccak256("WarrantAccount"), keccak256("1"), U256::from(chain_id), grant.account, B256::ZERO)
            .abi_encode();
    let struct_hash =
        keccak256([typehash.as_slice(), grant.eip712_hash_struct().as_slice(), &domain].concat());
    let separator = validator_domain(module, chain_id).separator();
    keccak256([&[0x19, 0x01][..], separator.as_slice(), struct_hash.as_slice()].concat())
}

/// The owner's ERC-7739 envelope around a 65-byte signature of [`grant_typed_data_digest`]: `signature ‖
/// appSeparator ‖ contentsHash ‖ contentsDescr ‖ uint16(len(contentsDescr))` (explicit mode, which OpenZeppelin's
/// `ERC7739` reads).
pub fn grant_owner_envelope(grant: &Grant, module: Address, chain_id: u64, raw: &[u8]) -> Bytes {
    let descr = contents_descr();
    let mut out = raw.to_vec();
    out.extend_from_slice(validator_domain(module, chain_id).separator().as_slice());
    out.extend_from_slice(grant.eip712_hash_struct().as_slice());
    out.extend_from_slice(descr.as_bytes());
    out.extend_from_slice(&(descr.len() as u16).to_be_bytes());
    out.into()
}

/// The typed data the owner's wallet signs (`eth_signTypedData_v4`): ERC-7739's `TypedDataSign` with the grant
/// as `contents`, under the validator's domain, naming the account's domain in the message.
pub fn grant_typed_data(grant_v: &Value, module: &str, chain_id: u64) -> ApiResult<Value> {
    let grant = grant_of(grant_v)?;
    let module = address("module", module)?;
    let mut types = serde_json::Map::new();
    let fields = |def: &str| -> Value {
        let inner = &def[def.find('(').map_or(0, |i| i + 1)..def.len().saturating_sub(1)];
        Value::Array(
            inner
                .split(',')
                .filter(|f| !f.is_empty())
                .map(|f| {
                    let (ty, name) = f.split_once(' ').unwrap_or((f, ""));
                    json!({ "name": name, "type": ty })
                })
                .collect(),
        )
    };
    types.insert(
        "EIP712Domain".into(),
        fields("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
    );
    types.insert(
        "TypedDataSign".into(),
        fields(&format!("TypedDataSign(Grant contents,{TYPED_DATA_SIGN_FIELDS})")),
    );
    for (name, def) in grant_components() {
        types.insert(name, fields(&def));
    }
    Ok(json!({
        "types": types,
        "primaryType": "TypedDataSign",
        "domain": {
            "name": "Warrant",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": module.to_checksum(None),
        },
        "message": {
            "contents": to_value(&GrantJson::from(&grant)),
            "name": "WarrantAccount",
            "version": "1",
            "chainId": chain_id.to_string(),
            "verifyingContract": grant.account.to_checksum(None),
            "salt": B256::ZERO,
        },
    }))
}

/// The signed grant from the wallet's 65-byte signature of [`grant_typed_data`]: `{ signedGrant, token, signer,
/// digest }`, `signer` the address the signature recovers to (the page compares it with the account's owner),
/// `token` carrying the P-256 session key when one is given.
pub fn signed_grant(
    grant_v: &Value,
    module: &str,
    chain_id: u64,
    signature: &str,
    session_key: &Value,
) -> ApiResult<Value> {
    let grant = grant_of(grant_v)?;
    let module = address("module", module)?;
    let raw = bytes("owner signature", signature)?;
    if raw.len() != 65 {
        return Err(ApiError::input(format!(
            "owner signature: {} bytes, a wallet signature has 65",
            raw.len()
        )));
    }
    let digest = grant_typed_data_digest(&grant, module, chain_id);
    let sig = alloy_primitives::Signature::from_raw(&raw)
        .map_err(|e| ApiError::input(format!("owner signature: {e}")))?;
    let signer = sig
        .recover_address_from_prehash(&digest)
        .map_err(|e| ApiError::input(format!("owner signature does not recover: {e}")))?;
    let owner_signature = grant_owner_envelope(&grant, module, chain_id, &raw);
    let signed = SignedGrant { chain_id, module, grant, owner_signature, session_key: None };
    let signed = with_key(signed, session_key_of(session_key)?)?;
    let token = signed.to_token().map_err(CoreError::from)?;
    Ok(json!({
        "signedGrant": to_value(&SignedGrantJson::from(&signed)),
        "token": token,
        "signer": signer.to_checksum(None),
        "digest": digest,
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// Session operations.

/// One call as the page gives it: target, value in wei (decimal string), calldata.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CallJson {
    target: String,
    #[serde(default)]
    value: Option<Dec<U256>>,
    #[serde(default)]
    data: Option<Bytes>,
}

/// Gas and fees, decimal strings.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GasJson {
    call_gas_limit: Dec<u128>,
    verification_gas_limit: Dec<u128>,
    pre_verification_gas: Dec<u128>,
    max_fee_per_gas: Dec<u128>,
    max_priority_fee_per_gas: Dec<u128>,
}

/// What the page asks to build.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpRequest {
    account: String,
    module: String,
    chain_id: Dec<u64>,
    #[serde(default)]
    account_kind: Option<String>,
    calls: Vec<CallJson>,
    gas: GasJson,
    #[serde(default)]
    key_suffix: u32,
    #[serde(default)]
    period: u32,
    sequence: Dec<u64>,
}

fn session_op(req: &Value) -> ApiResult<SessionOp> {
    let r: OpRequest = parse("operation request", req)?;
    let account_kind = match r.account_kind.as_deref() {
        None => AccountKind::WarrantAccount,
        Some(name) => AccountKind::from_name(name).ok_or_else(|| {
            ApiError::input(format!("account kind {name:?}: known are warrant, nexus, kernel"))
        })?,
    };
    let calls = r
        .calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(Call {
                target: address(&format!("call {i} target"), &c.target)?,
                value: c.value.map_or(U256::ZERO, |v| v.0),
                data: c.data.clone().unwrap_or_default().to_vec(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(SessionOp {
        account: address("account", &r.account)?,
        module: address("module", &r.module)?,
        chain_id: r.chain_id.0,
        account_kind,
        calls,
        gas: GasFields {
            call_gas_limit: r.gas.call_gas_limit.0,
            verification_gas_limit: r.gas.verification_gas_limit.0,
            pre_verification_gas: r.gas.pre_verification_gas.0,
            max_fee_per_gas: r.gas.max_fee_per_gas.0,
            max_priority_fee_per_gas: r.gas.max_priority_fee_per_gas.0,
            paymaster: None,
        },
        key_suffix: r.key_suffix,
        period: r.period,
        sequence: r.sequence.0,
        eip7702: None,
    })
}

/// The wire form of an operation (ERC-7769): the `0x7702` marker spelt as bundlers read it.
pub fn wire(op: &UserOperation) -> Value {
    let mut value = to_value(op);
    if op.factory == Some(EIP7702_MARKER) {
        value["factory"] = Value::String("0x7702".into());
    }
    value
}

fn op_of(v: &Value) -> ApiResult<UserOperation> {
    let mut v = v.clone();
    if v.get("factory").and_then(Value::as_str) == Some("0x7702") {
        v["factory"] = Value::String(EIP7702_MARKER.to_string());
    }
    parse("user operation", &v)
}

/// A USE operation to sign: `{ op, userOpHash, digest }`, `digest` what the session key signs
/// (`useDigest(userOpHash, id, period)`); the op's signature is empty until [`apply_use`].
pub fn prepare_use(req: &Value, session: &Value) -> ApiResult<Value> {
    let b = session_op(req)?;
    let session = session_of(session)?;
    let op = b.unsigned()?;
    let digest = b.use_digest_for(&session, &op)?;
    Ok(json!({ "op": wire(&op), "userOpHash": b.hash(&op)?, "digest": digest }))
}

/// An ENABLE operation to sign (the first of a session: it carries the owner's grant): `{ op, userOpHash, digest
/// }`. Refuses a grant for another account, module or chain.
pub fn prepare_enable(req: &Value, signed: &Value) -> ApiResult<Value> {
    let b = session_op(req)?;
    let g = signed_of(signed)?;
    let op = b.unsigned()?;
    let digest = b.enable_digest_for(&g, &op)?;
    Ok(json!({ "op": wire(&op), "userOpHash": b.hash(&op)?, "digest": digest }))
}

/// The USE operation of `req` signed with `session_signature` (65-byte secp256k1 or 129-byte P-256), refused
/// unless it proves the session's signer for this operation, as the validator will check.
pub fn apply_use(req: &Value, session: &Value, session_signature: &str) -> ApiResult<Value> {
    let b = session_op(req)?;
    let session = session_of(session)?;
    let sig = bytes("session signature", session_signature)?;
    Ok(wire(&b.with_use_signature(&session, b.unsigned()?, &sig)?.op))
}

/// The ENABLE operation of `req` signed with `session_signature`, checked like [`apply_use`].
pub fn apply_enable(req: &Value, signed: &Value, session_signature: &str) -> ApiResult<Value> {
    let b = session_op(req)?;
    let g = signed_of(signed)?;
    let sig = bytes("session signature", session_signature)?;
    Ok(wire(&b.with_enable_signature(&g, b.unsigned()?, &sig)?.op))
}

/// `op` with a USE module signature around a signature that is *not* checked: for gas estimation, where the
/// session key signs another digest so that the validator takes its estimation path (gas caps skipped).
pub fn estimation_use(op: &Value, session: &Value, period: u32, session_signature: &str) -> ApiResult<Value> {
    let mut op = op_of(op)?;
    let session = session_of(session)?;
    op.signature = use_signature(&session, period, &bytes("session signature", session_signature)?);
    Ok(wire(&op))
}

/// `op` with an ENABLE module signature around an unchecked signature, for gas estimation ([`estimation_use`]).
pub fn estimation_enable(
    op: &Value,
    signed: &Value,
    period: u32,
    session_signature: &str,
) -> ApiResult<Value> {
    let mut op = op_of(op)?;
    let g = signed_of(signed)?;
    let sig = bytes("session signature", session_signature)?;
    op.signature = enable_signature(&g.grant, period, &g.owner_signature, &sig);
    Ok(wire(&op))
}

/// The operation with the bundler's gas estimate applied (`eth_estimateUserOperationGas`'s answer), the
/// verification limit multiplied by `verification_headroom`; returns the new gas fields for the request.
pub fn apply_estimate(gas: &Value, estimate: &Value, verification_headroom: u32) -> ApiResult<Value> {
    let field = |name: &str| -> ApiResult<U256> {
        let text = estimate
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::input(format!("gas estimate: no {name}")))?;
        text.parse::<U256>().map_err(|_| ApiError::input(format!("gas estimate: {name} = {text:?}")))
    };
    let to_dec = |v: U256| -> ApiResult<String> {
        u128::try_from(v).map(|v| v.to_string()).map_err(|_| ApiError::input("gas estimate above 128 bits"))
    };
    let mut out = gas.clone();
    out["callGasLimit"] = to_dec(field("callGasLimit")?)?.into();
    out["preVerificationGas"] = to_dec(field("preVerificationGas")?)?.into();
    out["verificationGasLimit"] =
        to_dec(field("verificationGasLimit")?.saturating_mul(U256::from(verification_headroom)))?.into();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Pre-flight and what is left.

/// What the validator has counted, in JSON.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UsageJson {
    status: String,
    uses: u32,
    value_spent: Dec<u128>,
    period_index: u32,
    uses_in_period: u32,
    limits: Vec<SpendUsageJson>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpendUsageJson {
    period_index: u32,
    period_spent: Dec<u128>,
    lifetime_spent: Dec<u128>,
}

fn status_name(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::None => "none",
        SessionStatus::Enabled => "enabled",
        SessionStatus::Revoked => "revoked",
    }
}

fn usage_to_json(u: &SessionUsage) -> UsageJson {
    UsageJson {
        status: status_name(u.status).into(),
        uses: u.uses,
        value_spent: Dec(u.value_spent),
        period_index: u.period_index,
        uses_in_period: u.uses_in_period,
        limits: u
            .limits
            .iter()
            .map(|l| SpendUsageJson {
                period_index: l.period_index,
                period_spent: Dec(l.period_spent),
                lifetime_spent: Dec(l.lifetime_spent),
            })
            .collect(),
    }
}

fn usage_of(v: &Value) -> ApiResult<SessionUsage> {
    let u: UsageJson = parse("usage", v)?;
    let status = match u.status.as_str() {
        "none" => SessionStatus::None,
        "enabled" => SessionStatus::Enabled,
        "revoked" => SessionStatus::Revoked,
        other => return Err(ApiError::input(format!("usage status {other:?}: none, enabled or revoked"))),
    };
    Ok(SessionUsage {
        status,
        uses: u.uses,
        value_spent: u.value_spent.0,
        period_index: u.period_index,
        uses_in_period: u.uses_in_period,
        limits: u
            .limits
            .iter()
            .map(|l| SpendUsage {
                period_index: l.period_index,
                period_spent: l.period_spent.0,
                lifetime_spent: l.lifetime_spent.0,
            })
            .collect(),
    })
}

/// What [`check`] judges.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckJson {
    session: Value,
    usage: Value,
    presentation: String,
    op: Value,
    module: String,
    #[serde(default)]
    period: u32,
    now: u64,
    #[serde(default)]
    holdings: Vec<Option<Dec<U256>>>,
    /// Token hints for a denial's words, as [`explain`] takes them.
    #[serde(default)]
    tokens: Value,
}

/// The pre-flight check: would `WarrantValidator` (and the EntryPoint's time window) accept this operation now?
/// The debit it would make (`{ uses, valueSpent, … }`), or a denial naming the rule.
pub fn check(input: &Value) -> ApiResult<Value> {
    let c: CheckJson = parse("check", input)?;
    let session = session_of(&c.session)?;
    let usage = usage_of(&c.usage)?;
    let op = op_of(&c.op)?;
    let presentation = match c.presentation.as_str() {
        "use" => Presentation::Use,
        "enable" => Presentation::Enable,
        other => return Err(ApiError::input(format!("presentation {other:?}: use or enable"))),
    };
    let module = address("module", &c.module)?;
    let holdings: Vec<Option<U256>> = c.holdings.iter().map(|h| h.map(|d| d.0)).collect();
    let tokens = hints_of(&c.tokens)?;
    // A denial in the words the CLI uses (warrant_core::explain_denial): parameter names, token units, dates.
    let in_words = |denial: Denial| {
        let calls = execute_calls(&op.call_data).unwrap_or_default();
        let names = ParamNames::new();
        let ctx = DenialContext { scope: &session.scope, calls: &calls, tokens: &tokens, names: &names };
        ApiError { kind: "denial", rule: Some(denial.name()), message: denial_message(&denial, &ctx) }
    };
    let debit = check_operation(&OpCheck {
        session_id: session.id(op.sender),
        scope: &session.scope,
        usage: &usage,
        presentation,
        op: &op.pack(),
        account: op.sender,
        module,
        period: c.period,
        signature_valid: true,
        holdings: &holdings,
    })
    .map_err(in_words)?;
    check_op_time(&debit, c.now).map_err(in_words)?;
    Ok(json!({
        "usageAfter": to_value(&usage_to_json(&debit.usage_after())),
        "validAfter": debit.valid_after,
        "validUntil": debit.valid_until,
    }))
}

/// What each limit of the session has left now: `{ uses, value, limits: [...], validUntil, expired }`, `null`
/// where the scope sets no cap.
pub fn remaining(session: &Value, usage: &Value, now: u64) -> ApiResult<Value> {
    let session = session_of(session)?;
    let usage = usage_of(usage)?;
    let s = &session.scope;
    let uses = (s.maxUses != 0).then(|| s.maxUses.saturating_sub(usage.uses));
    let value = s.maxValueTotal.saturating_sub(U256::from(usage.value_spent));
    let limits: Vec<Value> = (0..s.limits.len())
        .filter_map(|i| {
            let u = usage.limits.get(i).copied().unwrap_or_default();
            spend_status(s, i, &u, now)
        })
        .map(|st| {
            json!({
                "token": st.token.to_checksum(None),
                "period": st.period,
                "remainingInPeriod": st.remaining_in_period.map(|v| v.to_string()),
                "remainingLifetime": st.remaining_lifetime.map(|v| v.to_string()),
                "refillsAt": st.refills_at,
            })
        })
        .collect();
    let valid_until = s.validUntil.to::<u64>();
    Ok(json!({
        "status": status_name(usage.status),
        "uses": uses,
        "usesMade": usage.uses,
        "value": value.to_string(),
        "limits": limits,
        "validUntil": (valid_until != 0).then_some(valid_until),
        "secondsLeft": (valid_until != 0).then(|| valid_until.saturating_sub(now)),
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// Chain reads (eth_call payloads and their decoding) and bundler refusals.

fn call(to: Address, data: Vec<u8>) -> Value {
    json!({ "to": to.to_checksum(None), "data": Bytes::from(data) })
}

/// `EntryPoint.getNonce(account, key)` for the session key's nonce key: `{ to, data }`.
pub fn nonce_call(account: &str, module: &str, account_kind: &str, key_suffix: u32) -> ApiResult<Value> {
    let kind = AccountKind::from_name(account_kind).ok_or_else(|| {
        ApiError::input(format!("account kind {account_kind:?}: known are warrant, nexus, kernel"))
    })?;
    let key = kind.nonce_key(address("module", module)?, key_suffix)?;
    Ok(call(
        ENTRY_POINT_V08,
        IEntryPoint::getNonceCall { sender: address("account", account)?, key }.abi_encode(),
    ))
}

/// The sequence number (low 64 bits, decimal) of a `getNonce` result.
pub fn decode_sequence(result: &str) -> ApiResult<String> {
    let nonce = IEntryPoint::getNonceCall::abi_decode_returns(&bytes("getNonce result", result)?)
        .map_err(|e| ApiError::input(format!("getNonce result: {e}")))?;
    Ok((nonce & U256::from(u64::MAX)).to_string())
}

/// `WarrantValidator.epochOf(account)`: `{ to, data }`.
pub fn epoch_call(account: &str, module: &str) -> ApiResult<Value> {
    let account = address("account", account)?;
    Ok(call(address("module", module)?, IWarrantValidator::epochOfCall { account }.abi_encode()))
}

/// The epoch (decimal) of an `epochOf` result.
pub fn decode_epoch(result: &str) -> ApiResult<String> {
    let epoch = IWarrantValidator::epochOfCall::abi_decode_returns(&bytes("epochOf result", result)?)
        .map_err(|e| ApiError::input(format!("epochOf result: {e}")))?;
    Ok(epoch.to_string())
}

/// The reads that make up a session's usage, in order: `sessionState`, `periodState`, then `spendState(i)` for
/// each spend limit. Each `{ to, data }`.
pub fn usage_calls(account: &str, module: &str, session: &Value) -> ApiResult<Value> {
    let account = address("account", account)?;
    let module = address("module", module)?;
    let session = session_of(session)?;
    let id = session.id(account);
    let mut calls = vec![
        call(module, IWarrantValidator::sessionStateCall { account, id }.abi_encode()),
        call(module, IWarrantValidator::periodStateCall { account, id }.abi_encode()),
    ];
    for i in 0..session.scope.limits.len() {
        calls.push(call(
            module,
            IWarrantValidator::spendStateCall { account, id, limitIndex: U256::from(i) }.abi_encode(),
        ));
    }
    Ok(Value::Array(calls))
}

/// The usage from the results of [`usage_calls`], in the same order.
pub fn decode_usage(results: &Value) -> ApiResult<Value> {
    let results: Vec<String> = parse("usage results", results)?;
    let [state, period, spends @ ..] = results.as_slice() else {
        return Err(ApiError::input("usage results: sessionState and periodState come first"));
    };
    let err = |what: &str, e: alloy_sol_types::Error| ApiError::input(format!("{what} result: {e}"));
    let state = IWarrantValidator::sessionStateCall::abi_decode_returns(&bytes("sessionState", state)?)
        .map_err(|e| err("sessionState", e))?;
    let period = IWarrantValidator::periodStateCall::abi_decode_returns(&bytes("periodState", period)?)
        .map_err(|e| err("periodState", e))?;
    let spends = spends
        .iter()
        .map(|s| {
            IWarrantValidator::spendStateCall::abi_decode_returns(&bytes("spendState", s)?)
                .map_err(|e| err("spendState", e))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let usage = SessionUsage::from_views(&state, &period, &spends).ok_or_else(|| {
        ApiError::input(format!("sessionState status {} is not one the validator writes", state.status))
    })?;
    Ok(to_value(&usage_to_json(&usage)))
}

/// Every `0x…` blob in a JSON-RPC error's message and data (bundlers put revert data in either).
fn hex_blobs(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'0' && b[i + 1] == b'x' {
            let start = i + 2;
            let end = start + b[start..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if end - start >= 8
                && (end - start) % 2 == 0
                && let Ok(blob) = hex::decode(&text[start..end])
            {
                out.push(blob);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn rule_in(data: &[u8]) -> Option<Denial> {
    if let Some(d) = Denial::from_revert_data(data) {
        return Some(d);
    }
    use alloy_sol_types::SolInterface;
    match IEntryPoint::IEntryPointErrors::abi_decode(data).ok()? {
        IEntryPoint::IEntryPointErrors::FailedOpWithRevert(f) => rule_in(&f.inner),
        IEntryPoint::IEntryPointErrors::FailedOp(_) => None,
    }
}

/// A bundler's JSON-RPC error object (`{ code, message, data }`) read as the page shows it: `{ kind: "bundler",
/// code, rule, message }`, `rule` the validator rule recovered from the revert data when one refused.
pub fn bundler_refusal(error: &Value) -> Value {
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
    let data = error.get("data").map(Value::to_string).unwrap_or_default();
    let denial = [message, data.as_str()].iter().flat_map(|t| hex_blobs(t)).find_map(|b| rule_in(&b));
    json!({
        "kind": "bundler",
        "code": error.get("code").cloned().unwrap_or(Value::Null),
        "rule": denial.as_ref().map(Denial::name),
        "message": match &denial {
            Some(d) => format!("{message} ({d})"),
            None => message.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests;
