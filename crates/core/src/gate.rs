//! Gates: a session that works only while the account holds a token (`Scope.gates`, `docs/gating.md`).
//!
//! A gate reads `balanceOf(account)` (ERC-20, ERC-721) or `balanceOf(account, id)` (ERC-1155) during validation.
//! ERC-7562 lets validation read another contract's storage only where it is *associated* with the sender (STO-021):
//! the slot is the account's address itself, or `keccak256(account ‖ x) + n` with `n <= 128`. Those balance
//! mappings are keyed by the account, so plain tokens pass; a proxy token (which reads its implementation slot) or
//! one that reads anything else does not, and a bundler in safe mode drops the op. [`check_probe`] judges a trace
//! of the token's `balanceOf` by that rule, so a grant the bundler would refuse is refused before it is signed.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, sol};

use crate::grant::{Gate, Scope, gate_kind};
use crate::policy::Denial;

/// At most this many gates per session: each is one external call in validation (the validator's `MAX_GATES`).
pub const MAX_GATES: usize = 8;

/// What ERC-7562 lets an associated slot lie past `keccak256(account ‖ x)`: `n <= 128`.
pub const ASSOCIATED_SLOT_REACH: u64 = 128;

sol! {
    /// The two balance reads a gate makes.
    interface IBalanceOf {
        function balanceOf(address owner) external view returns (uint256);
        function balanceOf(address owner, uint256 id) external view returns (uint256);
    }
}

/// The rules the validator applies to gates when a session is enabled (`InvalidGate`), in its order.
pub fn check_gates_well_formed(scope: &Scope) -> Result<(), Denial> {
    for (gate_index, g) in scope.gates.iter().enumerate() {
        if gate_index >= MAX_GATES
            || g.kind > gate_kind::ERC1155
            || g.token == Address::ZERO
            || g.minBalance.is_zero()
            || (g.kind != gate_kind::ERC1155 && !g.tokenId.is_zero())
        {
            return Err(Denial::InvalidGate { gate_index });
        }
    }
    Ok(())
}

/// The call that reads what `account` holds of `gate`'s token: `(token, calldata)`.
pub fn balance_call(gate: &Gate, account: Address) -> (Address, Bytes) {
    let data = if gate.kind == gate_kind::ERC1155 {
        IBalanceOf::balanceOf_1Call { owner: account, id: gate.tokenId }.abi_encode()
    } else {
        IBalanceOf::balanceOf_0Call { owner: account }.abi_encode()
    };
    (gate.token, data.into())
}

/// What the validator takes from a balance call's return data: its first word, or `None` (unreadable) when the
/// call reverted or returned less than a word.
pub fn holding_from_return(success: bool, data: &[u8]) -> Option<U256> {
    (success && data.len() >= 32).then(|| U256::from_be_slice(&data[..32]))
}

/// Checks the gates of `scope` against what the account holds (`holdings[i]` for gate `i`, `None` when its token
/// did not answer; a missing entry counts as `None`), as the validator does, first failing gate named.
pub fn check_gates(scope: &Scope, holdings: &[Option<U256>]) -> Result<(), Denial> {
    for (gate_index, g) in scope.gates.iter().enumerate() {
        let balance = holdings
            .get(gate_index)
            .copied()
            .flatten()
            .ok_or(Denial::GateUnreadable { gate_index, token: g.token })?;
        if balance < g.minBalance {
            return Err(Denial::GateNotHeld {
                gate_index,
                token: g.token,
                balance,
                min_balance: g.minBalance,
            });
        }
    }
    Ok(())
}

/// A geth-style JavaScript tracer for `debug_traceCall` (anvil and geth run it): it records every storage read or
/// write (contract, slot), every `KECCAK256` input, every opcode ERC-7562 bans in validation, and every call to
/// an address with no code. [`ProbeTrace`] is its result.
pub const PROBE_TRACER: &str = r#"{
  banned: {ORIGIN:1, GASPRICE:1, BLOCKHASH:1, COINBASE:1, TIMESTAMP:1, NUMBER:1, PREVRANDAO:1, DIFFICULTY:1,
    GASLIMIT:1, BASEFEE:1, BLOBHASH:1, BLOBBASEFEE:1, BALANCE:1, SELFBALANCE:1, CREATE:1, CREATE2:1,
    SELFDESTRUCT:1, INVALID:1},
  storage: [], keccak: [], opcodes: [], codeless: [],
  hex32: function(v) { var h = v.toString(16); while (h.length < 64) h = '0' + h; return '0x' + h; },
  step: function(log, db) {
    var op = log.op.toString();
    if (op === 'SLOAD' || op === 'SSTORE') {
      this.storage.push({contract: toHex(log.contract.getAddress()), slot: this.hex32(log.stack.peek(0))});
    } else if (op === 'KECCAK256' || op === 'SHA3') {
      var off = log.stack.peek(0).valueOf(), len = log.stack.peek(1).valueOf();
      if (len <= 512) this.keccak.push(toHex(log.memory.slice(off, off + len)));
    } else if (op === 'CALL' || op === 'STATICCALL' || op === 'DELEGATECALL' || op === 'CALLCODE') {
      var to = toAddress(log.stack.peek(1).toString(16));
      if (!isPrecompiled(to) && db.getCode(to).length === 0) this.codeless.push(toHex(to));
    }
    if (this.banned[op]) this.opcodes.push(op);
  },
  fault: function(log, db) {},
  result: function(ctx, db) {
    return {storage: this.storage, keccak: this.keccak, opcodes: this.opcodes, codeless: this.codeless,
      output: toHex(ctx.output), failed: ctx.error !== undefined};
  }
}"#;

/// One storage access a probe saw.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct StorageAccess {
    /// The contract whose storage was read or written.
    pub contract: Address,
    /// The slot.
    pub slot: B256,
}

/// What [`PROBE_TRACER`] returns for one `balanceOf` call.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct ProbeTrace {
    /// Every storage access, in order.
    pub storage: Vec<StorageAccess>,
    /// Every `KECCAK256` input (hex, `0x`-prefixed).
    pub keccak: Vec<Bytes>,
    /// Opcodes ERC-7562 bans in validation that the call ran.
    pub opcodes: Vec<String>,
    /// Addresses without code that the call called.
    pub codeless: Vec<Address>,
    /// The call's return data.
    #[serde(default)]
    pub output: Bytes,
    /// Whether the call reverted.
    #[serde(default)]
    pub failed: bool,
}

/// Why a gate would be refused by a bundler that enforces ERC-7562 without staking (each names the rule).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GateProbeError {
    /// The token has no code (OP-041: validation may not touch an address without code).
    #[error(
        "gate {gate_index}: {token} has no code, so validation could not read it (ERC-7562 OP-041); name a deployed \
         token"
    )]
    NoCode {
        /// The gate.
        gate_index: usize,
        /// Its token.
        token: Address,
    },
    /// `balanceOf` reverted or did not return a word.
    #[error(
        "gate {gate_index}: {token}.balanceOf did not return a balance; is it an ERC-20, ERC-721 or ERC-1155 of this kind?"
    )]
    NotAToken {
        /// The gate.
        gate_index: usize,
        /// Its token.
        token: Address,
    },
    /// `balanceOf` read a slot that is not associated with the account.
    #[error(
        "gate {gate_index}: {token}.balanceOf reads slot {slot} of {contract}, which is not associated with the \
         account (ERC-7562 STO-021: only the account's own entries, keccak(account ‖ x) + n with n <= 128, may be \
         read), so a bundler in safe mode refuses the op unless a staked entity vouches for it (STO-033). A proxy \
         token (it reads its implementation slot) does this; gate on a plain, non-proxy token instead"
    )]
    UnassociatedStorage {
        /// The gate.
        gate_index: usize,
        /// Its token.
        token: Address,
        /// The contract whose slot was read.
        contract: Address,
        /// The slot.
        slot: B256,
    },
    /// `balanceOf` ran an opcode validation may not use.
    #[error(
        "gate {gate_index}: {token}.balanceOf uses {opcode}, which validation may not (ERC-7562 OP-011/OP-080)"
    )]
    BannedOpcode {
        /// The gate.
        gate_index: usize,
        /// Its token.
        token: Address,
        /// The opcode.
        opcode: String,
    },
    /// `balanceOf` called an address without code.
    #[error("gate {gate_index}: {token}.balanceOf calls {callee}, which has no code (ERC-7562 OP-041)")]
    CallsCodeless {
        /// The gate.
        gate_index: usize,
        /// Its token.
        token: Address,
        /// The address called.
        callee: Address,
    },
}

/// Whether `slot` is associated with `account` given the `KECCAK256` inputs seen: the account's address itself,
/// or within [`ASSOCIATED_SLOT_REACH`] past the hash of an input that starts with the account's padded address.
pub fn is_associated(account: Address, slot: B256, keccak_inputs: &[Bytes]) -> bool {
    let account_word = B256::left_padding_from(account.as_slice());
    if slot == account_word {
        return true;
    }
    let slot = U256::from_be_bytes(slot.0);
    keccak_inputs.iter().any(|input| {
        input.len() >= 32 && input[..32] == account_word[..] && {
            let base = U256::from_be_bytes(keccak256(input).0);
            slot >= base && slot - base <= U256::from(ASSOCIATED_SLOT_REACH)
        }
    })
}

/// Judges the trace of gate `gate_index`'s `balanceOf(account…)` by ERC-7562's rules for an unstaked account
/// that already exists; `has_code` says whether the token has code.
pub fn check_probe(
    gate_index: usize,
    gate: &Gate,
    account: Address,
    has_code: bool,
    trace: &ProbeTrace,
) -> Result<(), GateProbeError> {
    let token = gate.token;
    if !has_code {
        return Err(GateProbeError::NoCode { gate_index, token });
    }
    if let Some(opcode) = trace.opcodes.first() {
        return Err(GateProbeError::BannedOpcode { gate_index, token, opcode: opcode.clone() });
    }
    if let Some(&callee) = trace.codeless.first() {
        return Err(GateProbeError::CallsCodeless { gate_index, token, callee });
    }
    if let Some(a) = trace.storage.iter().find(|a| !is_associated(account, a.slot, &trace.keccak)) {
        return Err(GateProbeError::UnassociatedStorage {
            gate_index,
            token,
            contract: a.contract,
            slot: a.slot,
        });
    }
    if holding_from_return(!trace.failed, &trace.output).is_none() {
        return Err(GateProbeError::NotAToken { gate_index, token });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::address;

    use super::*;

    fn gate(kind: u8, id: u64, min: u64) -> Gate {
        Gate { token: Address::repeat_byte(0x44), kind, tokenId: U256::from(id), minBalance: U256::from(min) }
    }

    #[test]
    fn well_formed_rules() {
        let ok = Scope { gates: vec![gate(0, 0, 1), gate(1, 0, 1), gate(2, 9, 1)], ..Default::default() };
        assert_eq!(check_gates_well_formed(&ok), Ok(()));
        for (bad, why) in [
            (gate(3, 0, 1), "unknown kind"),
            (Gate { token: Address::ZERO, ..gate(0, 0, 1) }, "no token"),
            (gate(1, 0, 0), "minimum 0"),
            (gate(1, 7, 1), "token id on ERC-721"),
            (gate(0, 1, 1), "token id on ERC-20"),
        ] {
            let scope = Scope { gates: vec![bad], ..Default::default() };
            assert_eq!(check_gates_well_formed(&scope), Err(Denial::InvalidGate { gate_index: 0 }), "{why}");
        }
        let many = Scope { gates: vec![gate(1, 0, 1); MAX_GATES + 1], ..Default::default() };
        assert_eq!(check_gates_well_formed(&many), Err(Denial::InvalidGate { gate_index: MAX_GATES }));
    }

    #[test]
    fn holdings_checked_in_order() {
        let scope = Scope { gates: vec![gate(1, 0, 1), gate(0, 0, 5)], ..Default::default() };
        assert_eq!(check_gates(&scope, &[Some(U256::from(1)), Some(U256::from(5))]), Ok(()));
        assert_eq!(
            check_gates(&scope, &[Some(U256::from(1)), Some(U256::from(4))]),
            Err(Denial::GateNotHeld {
                gate_index: 1,
                token: scope.gates[1].token,
                balance: U256::from(4),
                min_balance: U256::from(5)
            })
        );
        assert_eq!(
            check_gates(&scope, &[None, Some(U256::from(5))]),
            Err(Denial::GateUnreadable { gate_index: 0, token: scope.gates[0].token })
        );
        // A missing reading is not a pass.
        assert!(matches!(
            check_gates(&scope, &[Some(U256::from(1))]),
            Err(Denial::GateUnreadable { gate_index: 1, .. })
        ));
    }

    #[test]
    fn return_data_rules() {
        assert_eq!(holding_from_return(true, &[0u8; 31]), None);
        assert_eq!(holding_from_return(false, &[0u8; 32]), None);
        let mut long = vec![0u8; 64];
        long[31] = 3;
        long[63] = 9;
        assert_eq!(holding_from_return(true, &long), Some(U256::from(3)));
    }

    #[test]
    fn balance_calls() {
        let account = address!("0x00000000000000000000000000000000000000aa");
        let (to, data) = balance_call(&gate(1, 0, 1), account);
        assert_eq!(to, Address::repeat_byte(0x44));
        assert_eq!(&data[..4], &[0x70, 0xa0, 0x82, 0x31]);
        let (_, data) = balance_call(&gate(2, 7, 1), account);
        assert_eq!(&data[..4], &[0x00, 0xfd, 0xd5, 0x8e]);
        assert_eq!(data.len(), 4 + 64);
    }

    #[test]
    fn association() {
        let account = address!("0x00000000000000000000000000000000000000aa");
        let word = B256::left_padding_from(account.as_slice());
        let input: Bytes = [word.as_slice(), &U256::from(3).to_be_bytes::<32>()].concat().into();
        let base = U256::from_be_bytes(keccak256(&input).0);
        let at = |n: u64| B256::from(base + U256::from(n));
        assert!(is_associated(account, at(0), std::slice::from_ref(&input)));
        assert!(is_associated(account, at(128), std::slice::from_ref(&input)));
        assert!(!is_associated(account, at(129), std::slice::from_ref(&input)));
        assert!(is_associated(account, word, &[]));
        // The implementation slot of ERC-1967 is nobody's entry.
        let implementation_slot =
            B256::from(U256::from_be_bytes(keccak256("eip1967.proxy.implementation").0) - U256::from(1));
        assert!(!is_associated(account, implementation_slot, std::slice::from_ref(&input)));
        // Another address's entry is not the account's.
        let other: Bytes =
            [B256::left_padding_from(&[0xbb]).as_slice(), &U256::from(3).to_be_bytes::<32>()].concat().into();
        let other_slot = B256::from(U256::from_be_bytes(keccak256(&other).0));
        assert!(!is_associated(account, other_slot, &[other]));
    }

    #[test]
    fn probe_verdicts() {
        let account = address!("0x00000000000000000000000000000000000000aa");
        let g = gate(1, 0, 1);
        let word = |x: u64| Bytes::from(U256::from(x).to_be_bytes::<32>().to_vec());
        let fine = ProbeTrace { output: word(1), ..Default::default() };
        assert_eq!(check_probe(0, &g, account, true, &fine), Ok(()));
        assert!(matches!(check_probe(0, &g, account, false, &fine), Err(GateProbeError::NoCode { .. })));
        let proxy = ProbeTrace {
            storage: vec![StorageAccess { contract: g.token, slot: B256::repeat_byte(0x36) }],
            ..fine.clone()
        };
        assert!(matches!(
            check_probe(0, &g, account, true, &proxy),
            Err(GateProbeError::UnassociatedStorage { .. })
        ));
        let timed = ProbeTrace { opcodes: vec!["TIMESTAMP".into()], ..fine.clone() };
        assert!(matches!(
            check_probe(0, &g, account, true, &timed),
            Err(GateProbeError::BannedOpcode { .. })
        ));
        let reverted = ProbeTrace { failed: true, ..fine };
        assert!(matches!(
            check_probe(0, &g, account, true, &reverted),
            Err(GateProbeError::NotAToken { .. })
        ));
    }
}
