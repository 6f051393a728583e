//! Gates over JSON-RPC: what an account holds of each gate's token (the pre-flight's input), and the grant-time
//! probe that runs each token's `balanceOf` under a tracer and judges it by ERC-7562 (see
//! [`warrant_core::gate`] and `docs/gating.md`).

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use warrant_core::{
    gate::{GateProbeError, PROBE_TRACER, ProbeTrace, balance_call, check_probe, holding_from_return},
    grant::Scope,
};

use crate::{ChainError, DevChain};

/// What `account` holds of each gate of `scope`, read as the validator reads it: an `eth_call` of the balance
/// call from `module` (`None` where the token did not answer a word).
pub async fn read_holdings(
    provider: &DynProvider,
    scope: &Scope,
    account: Address,
    module: Address,
) -> Result<Vec<Option<U256>>, ChainError> {
    let mut out = Vec::with_capacity(scope.gates.len());
    for gate in &scope.gates {
        let (to, data) = balance_call(gate, account);
        let tx = TransactionRequest::default().from(module).to(to).input(data.into());
        // A revert is an answer (the token does not answer balanceOf); a transport failure is not.
        out.push(match provider.call(tx).await {
            Ok(ret) => holding_from_return(true, &ret),
            Err(e) if e.as_error_resp().is_some() => None,
            Err(e) => return Err(ChainError::Transport { method: "eth_call".into(), reason: e.to_string() }),
        });
    }
    Ok(out)
}

/// [`read_holdings`] on the in-process chain. The calls come from a dev account, not the module: revm refuses a
/// call from an address with code (EIP-3607, which a node's `eth_call` does not apply), and `balanceOf` does not
/// depend on its caller.
pub fn read_holdings_in(
    chain: &mut DevChain,
    scope: &Scope,
    account: Address,
) -> Result<Vec<Option<U256>>, ChainError> {
    let reader = chain.dev_account(0);
    let mut out = Vec::with_capacity(scope.gates.len());
    for gate in &scope.gates {
        let (to, data) = balance_call(gate, account);
        let r = chain.call_from(reader, to, data)?;
        out.push(holding_from_return(r.success, &r.output));
    }
    Ok(out)
}

/// Runs every gate's `balanceOf(account…)` from `module` under [`PROBE_TRACER`] (`debug_traceCall`) and refuses
/// the first one a bundler enforcing ERC-7562 would refuse for an existing, unstaked account. `Ok(Err(_))` is a
/// verdict on the grant; `Err(_)` means the node could not be asked (a node without `debug_traceCall` and JS
/// tracers cannot judge).
pub async fn probe_gates(
    provider: &DynProvider,
    scope: &Scope,
    account: Address,
    module: Address,
) -> Result<Result<(), GateProbeError>, ChainError> {
    for (gate_index, gate) in scope.gates.iter().enumerate() {
        let code = provider
            .get_code_at(gate.token)
            .await
            .map_err(|e| ChainError::Transport { method: "eth_getCode".into(), reason: e.to_string() })?;
        let (to, data) = balance_call(gate, account);
        let tx = TransactionRequest::default().from(module).to(to).input(data.into());
        let options = serde_json::json!({ "tracer": PROBE_TRACER });
        let trace: ProbeTrace = provider
            .raw_request("debug_traceCall".into(), (tx, "latest", options))
            .await
            .map_err(|e| ChainError::Transport {
                method: "debug_traceCall".into(),
                reason: format!(
                    "{e} (the gate probe needs a node with debug_traceCall and JavaScript tracers)"
                ),
            })?;
        if let Err(e) = check_probe(gate_index, gate, account, !code.is_empty(), &trace) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}
