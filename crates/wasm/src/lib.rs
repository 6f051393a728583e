//! Warrant in the browser: [`warrant_core`] through wasm-bindgen, for the dApp page in `web/` (see
//! `docs/browser.md`). Built by `scripts/build-web` into `web/pkg/`; `web/warrant.js` wraps it in a typed API.
//!
//! Every export takes and returns JSON text (the stable forms of `warrant_core::grant_json` and the ERC-7769
//! wire form of a user operation), so nothing of the JS object model leaks into the Rust side, and every failure
//! is thrown as a JS `Error` whose `kind` says where it comes from and whose `rule` names the validator rule
//! that refused (the `Denial` name, e.g. `CallNotPermitted`). The logic is in [`api`], which the host tests run.

pub mod api;

use api::{ApiError, ApiResult, json_arg};
use wasm_bindgen::prelude::*;

/// A JS `Error` carrying the API error's fields.
fn js_error(e: ApiError) -> JsValue {
    let error = js_sys::Error::new(&e.message);
    error.set_name("WarrantError");
    let object: &JsValue = error.as_ref();
    let _ = js_sys::Reflect::set(object, &"kind".into(), &e.kind.into());
    let rule: JsValue = e.rule.map_or(JsValue::NULL, JsValue::from);
    let _ = js_sys::Reflect::set(object, &"rule".into(), &rule);
    error.into()
}

fn out<T: serde::Serialize>(r: ApiResult<T>) -> Result<String, JsValue> {
    r.map(|v| serde_json::to_string(&v).expect("the API's values serialize")).map_err(js_error)
}

fn arg(what: &str, text: &str) -> Result<serde_json::Value, JsValue> {
    json_arg(what, text).map_err(js_error)
}

/// Reads a grant token: `{ signedGrant, sessionId }`.
#[wasm_bindgen(js_name = readToken)]
pub fn read_token(token: &str) -> Result<String, JsValue> {
    out(api::read_token(token))
}

/// The token of a signed grant (JSON), carrying its P-256 session key (`{ kind, publicKey }` or `null`).
#[wasm_bindgen(js_name = encodeToken)]
pub fn encode_token(signed: &str, session_key: &str) -> Result<String, JsValue> {
    api::encode_token(&arg("signed grant", signed)?, &arg("session key", session_key)?).map_err(js_error)
}

/// A grant (JSON) in plain words; `hints` maps token addresses to `{ symbol, decimals }` (`{}` for none);
/// `session_key` names its P-256 key (`null` for none).
#[wasm_bindgen]
pub fn explain(grant: &str, hints: &str, session_key: &str) -> Result<String, JsValue> {
    api::explain(&arg("grant", grant)?, &arg("token hints", hints)?, &arg("session key", session_key)?)
        .map_err(js_error)
}

/// The session signer of a P-256 public key (`0x04 ‖ x ‖ y`, hex); `kind` 1 raw, 2 WebCrypto.
#[wasm_bindgen(js_name = p256Signer)]
pub fn p256_signer(kind: u8, public_key: &str) -> Result<String, JsValue> {
    api::p256_signer(kind, public_key).map(|a| a.to_checksum(None)).map_err(js_error)
}

/// The 129-byte session signature (`0x…`) from WebCrypto's 64-byte `r ‖ s`, `s` normalised low.
#[wasm_bindgen(js_name = p256SessionSignature)]
pub fn p256_session_signature(kind: u8, public_key: &str, rs: &str) -> Result<String, JsValue> {
    api::p256_session_signature(kind, public_key, rs).map(|b| b.to_string()).map_err(js_error)
}

/// Refuses, with the rule named, a grant the validator would refuse (checked before the owner signs).
#[wasm_bindgen(js_name = validateGrant)]
pub fn validate_grant(grant: &str, module: &str, chain_id: u64) -> Result<(), JsValue> {
    api::validate_grant(&arg("grant", grant)?, module, chain_id).map_err(js_error)
}

/// The session id (`0x…`) of a session (JSON) for an account.
#[wasm_bindgen(js_name = sessionId)]
pub fn session_id(session: &str, account: &str) -> Result<String, JsValue> {
    api::session_id(&arg("session", session)?, account).map(|id| id.to_string()).map_err(js_error)
}

/// The ERC-7739 typed data the owner's wallet signs with `eth_signTypedData_v4` (JSON).
#[wasm_bindgen(js_name = grantTypedData)]
pub fn grant_typed_data(grant: &str, module: &str, chain_id: u64) -> Result<String, JsValue> {
    out(api::grant_typed_data(&arg("grant", grant)?, module, chain_id))
}

/// The signed grant from the wallet's signature: `{ signedGrant, token, signer, digest }`.
#[wasm_bindgen(js_name = signedGrant)]
pub fn signed_grant(
    grant: &str,
    module: &str,
    chain_id: u64,
    signature: &str,
    session_key: &str,
) -> Result<String, JsValue> {
    out(api::signed_grant(
        &arg("grant", grant)?,
        module,
        chain_id,
        signature,
        &arg("session key", session_key)?,
    ))
}

/// A USE operation to sign: `{ op, userOpHash, digest }`.
#[wasm_bindgen(js_name = prepareUse)]
pub fn prepare_use(request: &str, session: &str) -> Result<String, JsValue> {
    out(api::prepare_use(&arg("operation request", request)?, &arg("session", session)?))
}

/// An ENABLE operation to sign: `{ op, userOpHash, digest }`.
#[wasm_bindgen(js_name = prepareEnable)]
pub fn prepare_enable(request: &str, signed: &str) -> Result<String, JsValue> {
    out(api::prepare_enable(&arg("operation request", request)?, &arg("signed grant", signed)?))
}

/// The USE operation of a request signed with the session key's signature (`0x…`), checked as the validator
/// will check it.
#[wasm_bindgen(js_name = applyUse)]
pub fn apply_use(request: &str, session: &str, signature: &str) -> Result<String, JsValue> {
    out(api::apply_use(&arg("operation request", request)?, &arg("session", session)?, signature))
}

/// The ENABLE operation of a request signed with the session key's signature, checked.
#[wasm_bindgen(js_name = applyEnable)]
pub fn apply_enable(request: &str, signed: &str, signature: &str) -> Result<String, JsValue> {
    out(api::apply_enable(&arg("operation request", request)?, &arg("signed grant", signed)?, signature))
}

/// An operation (wire JSON) with a USE module signature around an unchecked signature, for gas estimation.
#[wasm_bindgen(js_name = estimationUse)]
pub fn estimation_use(op: &str, session: &str, period: u32, signature: &str) -> Result<String, JsValue> {
    out(api::estimation_use(&arg("user operation", op)?, &arg("session", session)?, period, signature))
}

/// An operation (wire JSON) with an ENABLE module signature around an unchecked signature, for gas estimation.
#[wasm_bindgen(js_name = estimationEnable)]
pub fn estimation_enable(op: &str, signed: &str, period: u32, signature: &str) -> Result<String, JsValue> {
    out(api::estimation_enable(&arg("user operation", op)?, &arg("signed grant", signed)?, period, signature))
}

/// Gas fields (JSON) with a bundler estimate applied, the verification limit times `headroom`.
#[wasm_bindgen(js_name = applyEstimate)]
pub fn apply_estimate(gas: &str, estimate: &str, headroom: u32) -> Result<String, JsValue> {
    out(api::apply_estimate(&arg("gas", gas)?, &arg("gas estimate", estimate)?, headroom))
}

/// The pre-flight check (JSON input, see `web/warrant.d.ts`): the debit, or an error naming the rule.
#[wasm_bindgen]
pub fn check(input: &str) -> Result<String, JsValue> {
    out(api::check(&arg("check", input)?))
}

/// What each limit of a session has left at `now`.
#[wasm_bindgen]
pub fn remaining(session: &str, usage: &str, now: u64) -> Result<String, JsValue> {
    out(api::remaining(&arg("session", session)?, &arg("usage", usage)?, now))
}

/// `EntryPoint.getNonce` for the session key's nonce key: `{ to, data }`.
#[wasm_bindgen(js_name = nonceCall)]
pub fn nonce_call(
    account: &str,
    module: &str,
    account_kind: &str,
    key_suffix: u32,
) -> Result<String, JsValue> {
    out(api::nonce_call(account, module, account_kind, key_suffix))
}

/// The sequence number (decimal) of a `getNonce` result.
#[wasm_bindgen(js_name = decodeSequence)]
pub fn decode_sequence(result: &str) -> Result<String, JsValue> {
    api::decode_sequence(result).map_err(js_error)
}

/// `WarrantValidator.epochOf(account)`: `{ to, data }`.
#[wasm_bindgen(js_name = epochCall)]
pub fn epoch_call(account: &str, module: &str) -> Result<String, JsValue> {
    out(api::epoch_call(account, module))
}

/// The epoch (decimal) of an `epochOf` result.
#[wasm_bindgen(js_name = decodeEpoch)]
pub fn decode_epoch(result: &str) -> Result<String, JsValue> {
    api::decode_epoch(result).map_err(js_error)
}

/// The reads of a session's usage: `[{ to, data }]`.
#[wasm_bindgen(js_name = usageCalls)]
pub fn usage_calls(account: &str, module: &str, session: &str) -> Result<String, JsValue> {
    out(api::usage_calls(account, module, &arg("session", session)?))
}

/// The usage (JSON) from the results of `usageCalls`, in order.
#[wasm_bindgen(js_name = decodeUsage)]
pub fn decode_usage(results: &str) -> Result<String, JsValue> {
    out(api::decode_usage(&arg("usage results", results)?))
}

/// A bundler's JSON-RPC error object read: `{ kind: "bundler", code, rule, message }`.
#[wasm_bindgen(js_name = bundlerRefusal)]
pub fn bundler_refusal(error: &str) -> Result<String, JsValue> {
    out(Ok(api::bundler_refusal(&arg("bundler error", error)?)))
}
