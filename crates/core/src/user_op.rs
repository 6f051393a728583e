//! EntryPoint v0.8 user operations: the unpacked form bundlers speak (ERC-7769), the packed form the EntryPoint
//! takes, and the EIP-712 `userOpHash` that owners and session keys sign.

use alloy_primitives::{Address, B256, Bytes, U128, U256, b256, keccak256, utils::KECCAK256_EMPTY};
use alloy_sol_types::{Eip712Domain, eip712_domain, sol};
use serde::{Deserialize, Serialize};

use crate::{CoreError, constants::EIP7702_INITCODE_MARKER};

sol! {
    /// The user operation as `EntryPoint.handleOps` takes it (v0.7/v0.8 packed layout).
    #[derive(Debug, Default, PartialEq, Eq)]
    struct PackedUserOperation {
        address sender;
        uint256 nonce;
        bytes initCode;
        bytes callData;
        bytes32 accountGasLimits;
        uint256 preVerificationGas;
        bytes32 gasFees;
        bytes paymasterAndData;
        bytes signature;
    }

    /// The parts of EntryPoint v0.8's interface Warrant uses.
    #[derive(Debug, PartialEq, Eq)]
    interface IEntryPoint {
        /// Validates every operation, then executes each; pays the bundler's beneficiary.
        function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;
        /// The hash an operation's signer signs.
        function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
        /// The next nonce of `sender` under `key`.
        function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
        /// Adds to an account's gas deposit.
        function depositTo(address account) external payable;
        /// An account's gas deposit.
        function balanceOf(address account) external view returns (uint256);

        /// One operation was executed (successfully or not).
        event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster,
            uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
        /// An operation's execution reverted with this reason.
        event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce,
            bytes revertReason);

        /// An operation failed validation (`AAxx` reason); the whole bundle reverts.
        error FailedOp(uint256 opIndex, string reason);
        /// An operation failed validation with the revert data of the account or paymaster.
        error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
    }
}

mod eip712 {
    alloy_sol_types::sol! {
        /// The EIP-712 type the EntryPoint hashes: the packed operation without its signature.
        struct PackedUserOperation {
            address sender;
            uint256 nonce;
            bytes initCode;
            bytes callData;
            bytes32 accountGasLimits;
            uint256 preVerificationGas;
            bytes32 gasFees;
            bytes paymasterAndData;
        }
    }
}

/// EntryPoint v0.8's `PACKED_USEROP_TYPEHASH`: the EIP-712 type hash of `PackedUserOperation`, a constant so
/// hashing an operation does not rebuild and hash the type string (checked against alloy's in the tests).
pub const PACKED_USER_OP_TYPEHASH: B256 =
    b256!("0x29a0bca4af4be3421398da00295e58e6d7de38cb492214754cb6a47507dd6f8e");

/// `keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")`.
const DOMAIN_TYPEHASH: B256 = b256!("0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");
/// `keccak256("ERC4337")`, the EntryPoint's EIP-712 name.
const DOMAIN_NAME_HASH: B256 = b256!("0x364da28a5c92bcc87fe97c8813a6c6b8a3a049b0ea0a328fcb0b4f0e00337586");
/// `keccak256("1")`, its version.
const DOMAIN_VERSION_HASH: B256 = b256!("0xc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc6");

/// The domain separator of [`entry_point_domain`], from constants (one keccak instead of alloy's four and the
/// type string it builds): operations are hashed once per signature, so this is on the signing path.
pub fn entry_point_domain_separator(entry_point: Address, chain_id: u64) -> B256 {
    std::thread_local! {
        /// The last separator this thread computed: a signer hashes many operations for one EntryPoint and
        /// chain, and the separator is two keccak permutations of the few each operation costs.
        static LAST: std::cell::Cell<Option<(Address, u64, B256)>> = const { std::cell::Cell::new(None) };
    }
    if let Some((ep, id, separator)) = LAST.get()
        && ep == entry_point
        && id == chain_id
    {
        return separator;
    }
    let mut words = [0u8; 160];
    words[..32].copy_from_slice(DOMAIN_TYPEHASH.as_slice());
    words[32..64].copy_from_slice(DOMAIN_NAME_HASH.as_slice());
    words[64..96].copy_from_slice(DOMAIN_VERSION_HASH.as_slice());
    words[96..128].copy_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
    words[140..160].copy_from_slice(entry_point.as_slice());
    let separator = keccak256(words);
    LAST.set(Some((entry_point, chain_id, separator)));
    separator
}

/// keccak256 of a field that is usually empty (initCode, paymasterAndData), without hashing the empty string.
fn hash_bytes(data: &[u8]) -> B256 {
    if data.is_empty() { KECCAK256_EMPTY } else { keccak256(data) }
}

/// The EIP-712 domain of EntryPoint v0.8 deployed at `entry_point` on `chain_id`.
pub fn entry_point_domain(entry_point: Address, chain_id: u64) -> Eip712Domain {
    eip712_domain! {
        name: "ERC4337",
        version: "1",
        chain_id: chain_id,
        verifying_contract: entry_point,
    }
}

/// A user operation in the unpacked form of the bundler JSON-RPC interface (ERC-7769).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperation {
    /// The account that executes the operation.
    pub sender: Address,
    /// The nonce: the top 24 bytes are the key (Warrant's account reads its validator from the key's top 20
    /// bytes), the low 8 bytes the sequence.
    pub nonce: U256,
    /// The factory that deploys the account, or the EIP-7702 marker `0x7702…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory: Option<Address>,
    /// Data for the factory (or, for a 7702 sender, an initialization call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factory_data: Option<Bytes>,
    /// What the account executes.
    pub call_data: Bytes,
    /// Gas for the execution phase.
    pub call_gas_limit: U128,
    /// Gas for account creation and validation.
    pub verification_gas_limit: U128,
    /// Gas paid to the bundler for overhead (calldata, the EIP-7702 tuple, …).
    pub pre_verification_gas: U256,
    /// EIP-1559 maximum fee per gas.
    pub max_fee_per_gas: U128,
    /// EIP-1559 maximum priority fee per gas.
    pub max_priority_fee_per_gas: U128,
    /// The paymaster sponsoring gas, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster: Option<Address>,
    /// Gas for the paymaster's validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U128>,
    /// Gas for the paymaster's `postOp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U128>,
    /// Data for the paymaster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_data: Option<Bytes>,
    /// The signature the account's validator checks.
    pub signature: Bytes,
    /// An EIP-7702 authorization of the sender for the bundler to put in its type-4 transaction (ERC-7769
    /// `eip7702Auth`: `chainId`, `address`, `nonce`, `yParity`, `r`, `s` as hex quantities). Not part of the
    /// packed form or the hash: the hash binds the delegate through the `0x7702` initCode marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip7702_auth: Option<alloy_eip7702::SignedAuthorization>,
}

fn pack_u128_pair(high: U128, low: U128) -> B256 {
    let mut word = [0u8; 32];
    word[..16].copy_from_slice(&high.to_be_bytes::<16>());
    word[16..].copy_from_slice(&low.to_be_bytes::<16>());
    B256::from(word)
}

fn unpack_u128_pair(word: B256) -> (U128, U128) {
    (U128::from_be_slice(&word[..16]), U128::from_be_slice(&word[16..]))
}

impl UserOperation {
    /// The delegate an EIP-7702 operation's hash binds: the one its `eip7702_auth` installs (the EntryPoint
    /// sees it once the bundle transaction has applied it), else the sender's `current` delegate.
    pub fn eip7702_delegate(&self, current: Option<Address>) -> Option<Address> {
        self.eip7702_auth.as_ref().map(|a| a.address).or(current)
    }

    /// The packed form `EntryPoint.handleOps` takes.
    pub fn pack(&self) -> PackedUserOperation {
        let init_code = match self.factory {
            Some(factory) => {
                let mut code = factory.to_vec();
                code.extend_from_slice(self.factory_data.as_ref().map_or(&[][..], |d| d.as_ref()));
                code.into()
            }
            None => Bytes::new(),
        };
        let paymaster_and_data = match self.paymaster {
            Some(paymaster) => {
                let mut data = paymaster.to_vec();
                data.extend_from_slice(
                    &self.paymaster_verification_gas_limit.unwrap_or_default().to_be_bytes::<16>(),
                );
                data.extend_from_slice(
                    &self.paymaster_post_op_gas_limit.unwrap_or_default().to_be_bytes::<16>(),
                );
                data.extend_from_slice(self.paymaster_data.as_ref().map_or(&[][..], |d| d.as_ref()));
                data.into()
            }
            None => Bytes::new(),
        };
        PackedUserOperation {
            sender: self.sender,
            nonce: self.nonce,
            initCode: init_code,
            callData: self.call_data.clone(),
            accountGasLimits: pack_u128_pair(self.verification_gas_limit, self.call_gas_limit),
            preVerificationGas: self.pre_verification_gas,
            gasFees: pack_u128_pair(self.max_priority_fee_per_gas, self.max_fee_per_gas),
            paymasterAndData: paymaster_and_data,
            signature: self.signature.clone(),
        }
    }

    /// The EIP-712 `userOpHash` under EntryPoint v0.8 at `entry_point` on `chain_id`; see
    /// [`PackedUserOperation::hash`].
    pub fn hash(
        &self,
        entry_point: Address,
        chain_id: u64,
        eip7702_delegate: Option<Address>,
    ) -> Result<B256, CoreError> {
        self.pack().hash(entry_point, chain_id, eip7702_delegate)
    }
}

impl PackedUserOperation {
    /// Whether the initCode carries the EIP-7702 marker, as EntryPoint v0.8 decides it: the first 20 bytes
    /// (zero-padded) are `0x7702` followed by zeros.
    pub fn is_eip7702(&self) -> bool {
        if self.initCode.len() < 2 {
            return false;
        }
        let mut start = [0u8; 20];
        let n = self.initCode.len().min(20);
        start[..n].copy_from_slice(&self.initCode[..n]);
        start[..2] == EIP7702_INITCODE_MARKER && start[2..].iter().all(|b| *b == 0)
    }

    /// The unpacked (wire) form; the inverse of [`UserOperation::pack`] for well-formed packed fields (with no
    /// `eip7702_auth`, which the packed form does not carry).
    pub fn unpack(&self) -> UserOperation {
        let (factory, factory_data) = if self.initCode.len() >= 20 {
            (Some(Address::from_slice(&self.initCode[..20])), Some(self.initCode.slice(20..)))
        } else {
            (None, None)
        };
        let (verification_gas_limit, call_gas_limit) = unpack_u128_pair(self.accountGasLimits);
        let (max_priority_fee_per_gas, max_fee_per_gas) = unpack_u128_pair(self.gasFees);
        let pm = &self.paymasterAndData;
        let (paymaster, pm_verification, pm_post_op, pm_data) = if pm.len() >= 52 {
            (
                Some(Address::from_slice(&pm[..20])),
                Some(U128::from_be_slice(&pm[20..36])),
                Some(U128::from_be_slice(&pm[36..52])),
                Some(pm.slice(52..)),
            )
        } else {
            (None, None, None, None)
        };
        UserOperation {
            sender: self.sender,
            nonce: self.nonce,
            factory,
            factory_data,
            call_data: self.callData.clone(),
            call_gas_limit,
            verification_gas_limit,
            pre_verification_gas: self.preVerificationGas,
            max_fee_per_gas,
            max_priority_fee_per_gas,
            paymaster,
            paymaster_verification_gas_limit: pm_verification,
            paymaster_post_op_gas_limit: pm_post_op,
            paymaster_data: pm_data,
            signature: self.signature.clone(),
            eip7702_auth: None,
        }
    }

    /// The EIP-712 `userOpHash` the EntryPoint computes (`getUserOpHash`).
    ///
    /// For an EIP-7702 operation the EntryPoint hashes `delegate ‖ initCode[20..]` in place of the initCode,
    /// binding the sender's current delegate into the signature; `eip7702_delegate` must then be that delegate.
    pub fn hash(
        &self,
        entry_point: Address,
        chain_id: u64,
        eip7702_delegate: Option<Address>,
    ) -> Result<B256, CoreError> {
        let init_code_hash = if self.is_eip7702() {
            let delegate =
                eip7702_delegate.ok_or(CoreError::MissingEip7702Delegate { sender: self.sender })?;
            let mut preimage = delegate.to_vec();
            if self.initCode.len() > 20 {
                preimage.extend_from_slice(&self.initCode[20..]);
            }
            keccak256(preimage)
        } else {
            hash_bytes(&self.initCode)
        };
        // abi.encode of nine static words, written in place (no allocation on the signing path).
        let mut words = [0u8; 9 * 32];
        let fields: [[u8; 32]; 9] = [
            PACKED_USER_OP_TYPEHASH.0,
            self.sender.into_word().0,
            self.nonce.to_be_bytes::<32>(),
            init_code_hash.0,
            keccak256(&self.callData).0,
            self.accountGasLimits.0,
            self.preVerificationGas.to_be_bytes::<32>(),
            self.gasFees.0,
            hash_bytes(&self.paymasterAndData).0,
        ];
        for (chunk, field) in words.chunks_exact_mut(32).zip(fields) {
            chunk.copy_from_slice(&field);
        }
        let struct_hash = keccak256(words);
        let separator = entry_point_domain_separator(entry_point, chain_id);
        let mut digest_input = [0u8; 66];
        digest_input[..2].copy_from_slice(&[0x19, 0x01]);
        digest_input[2..34].copy_from_slice(separator.as_slice());
        digest_input[34..].copy_from_slice(struct_hash.as_slice());
        Ok(keccak256(digest_input))
    }
}

/// The nonce that selects `validator` (placed in the top 20 bytes of the key, as Warrant's account and
/// OpenZeppelin's `AccountERC7579` read it) with the given 4-byte key suffix and sequence number.
pub fn validator_nonce(validator: Address, key_suffix: u32, sequence: u64) -> U256 {
    let mut word = [0u8; 32];
    word[..20].copy_from_slice(validator.as_slice());
    word[20..24].copy_from_slice(&key_suffix.to_be_bytes());
    word[24..].copy_from_slice(&sequence.to_be_bytes());
    U256::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;
    use alloy_sol_types::SolStruct;

    fn sample() -> UserOperation {
        UserOperation {
            sender: address!("0x1111111111111111111111111111111111111111"),
            nonce: U256::from(7),
            factory: Some(address!("0x2222222222222222222222222222222222222222")),
            factory_data: Some(Bytes::from_static(&[1, 2, 3])),
            call_data: Bytes::from_static(&[0xde, 0xad]),
            call_gas_limit: U128::from(100_000),
            verification_gas_limit: U128::from(200_000),
            pre_verification_gas: U256::from(50_000),
            max_fee_per_gas: U128::from(3_000_000_000u64),
            max_priority_fee_per_gas: U128::from(1_000_000_000u64),
            paymaster: Some(address!("0x3333333333333333333333333333333333333333")),
            paymaster_verification_gas_limit: Some(U128::from(60_000)),
            paymaster_post_op_gas_limit: Some(U128::from(10_000)),
            paymaster_data: Some(Bytes::from_static(&[9])),
            signature: Bytes::from_static(&[0xaa; 65]),
            eip7702_auth: None,
        }
    }

    #[test]
    fn hashing_constants_equal_alloys_computation() {
        assert_eq!(
            PACKED_USER_OP_TYPEHASH,
            keccak256(eip712::PackedUserOperation::eip712_encode_type().as_bytes())
        );
        for (entry_point, chain_id) in
            [(Address::ZERO, 0), (address!("0x4337084d9e255ff0702461cf8895ce9e3b5ff108"), 31337)]
        {
            assert_eq!(
                entry_point_domain_separator(entry_point, chain_id),
                entry_point_domain(entry_point, chain_id).separator()
            );
        }
        assert_eq!(
            entry_point_domain_separator(Address::ZERO, u64::MAX),
            entry_point_domain(Address::ZERO, u64::MAX).separator()
        );
    }

    #[test]
    fn pack_unpack_round_trip() {
        let op = sample();
        assert_eq!(op.pack().unpack(), op);
        let packed = op.pack();
        assert_eq!(&packed.accountGasLimits[..16], &U128::from(200_000).to_be_bytes::<16>());
        assert_eq!(&packed.gasFees[16..], &U128::from(3_000_000_000u64).to_be_bytes::<16>());
        assert_eq!(packed.paymasterAndData.len(), 20 + 16 + 16 + 1);
    }

    #[test]
    fn wire_form_uses_camel_case_and_hex_quantities() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["callGasLimit"], "0x186a0");
        assert_eq!(json["paymasterPostOpGasLimit"], "0x2710");
        let back: UserOperation = serde_json::from_value(json).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn wire_form_carries_the_eip7702_authorization() {
        let auth = alloy_eip7702::Authorization {
            chain_id: U256::from(31337),
            address: address!("0x4444444444444444444444444444444444444444"),
            nonce: 5,
        };
        let signed =
            alloy_eip7702::SignedAuthorization::new_unchecked(auth, 1, U256::from(0xabc), U256::from(0xdef));
        let op = UserOperation { eip7702_auth: Some(signed.clone()), ..sample() };
        let json = serde_json::to_value(&op).unwrap();
        // ERC-7769: `eip7702Auth` with hex-quantity fields.
        assert_eq!(
            json["eip7702Auth"],
            serde_json::json!({
                "chainId": "0x7a69",
                "address": "0x4444444444444444444444444444444444444444",
                "nonce": "0x5",
                "yParity": "0x1",
                "r": "0xabc",
                "s": "0xdef",
            })
        );
        let back: UserOperation = serde_json::from_value(json).unwrap();
        assert_eq!(back.eip7702_auth, Some(signed));
        // Absent when there is none; not part of the packed form.
        assert!(serde_json::to_value(sample()).unwrap().get("eip7702Auth").is_none());
        assert_eq!(op.pack(), sample().pack());
    }

    #[test]
    fn eip7702_marker_requires_the_delegate() {
        let mut op = sample();
        op.factory = Some(address!("0x7702000000000000000000000000000000000000"));
        op.factory_data = None;
        let packed = op.pack();
        assert!(packed.is_eip7702());
        assert_eq!(
            packed.hash(Address::ZERO, 1, None),
            Err(CoreError::MissingEip7702Delegate { sender: op.sender })
        );
        let a = packed.hash(Address::ZERO, 1, Some(Address::with_last_byte(1))).unwrap();
        let b = packed.hash(Address::ZERO, 1, Some(Address::with_last_byte(2))).unwrap();
        assert_ne!(a, b, "the delegate is bound into the hash");
        op.factory = Some(address!("0x7702000000000000000000000000000000000001"));
        assert!(!op.pack().is_eip7702());
    }

    #[test]
    fn hash_binds_chain_and_entry_point() {
        let p = sample().pack();
        let h = p.hash(Address::ZERO, 1, None).unwrap();
        assert_ne!(h, p.hash(Address::ZERO, 2, None).unwrap());
        assert_ne!(h, p.hash(Address::with_last_byte(1), 1, None).unwrap());
    }

    #[test]
    fn validator_nonce_layout() {
        let v = address!("0x00000000000000000000000000000000000000ff");
        let n = validator_nonce(v, 1, 2);
        let bytes = n.to_be_bytes::<32>();
        assert_eq!(bytes[19], 0xff);
        assert_eq!(bytes[23], 1);
        assert_eq!(bytes[31], 2);
    }
}
