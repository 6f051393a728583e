//! Addresses and values fixed by the protocols Warrant builds on.

use alloy_primitives::{Address, B256, address, b256};

/// The canonical address of EntryPoint v0.8, the same on every chain.
pub const ENTRY_POINT_V08: Address = address!("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108");

/// The deterministic CREATE2 deployer (Arachnid's proxy) that EntryPoint v0.8 is deployed through.
pub const CREATE2_DEPLOYER: Address = address!("0x4e59b44847b379578588920ca78fbf26c0b4956c");

/// The CREATE2 salt under which EntryPoint v0.8's published creation code lands on [`ENTRY_POINT_V08`].
pub const ENTRY_POINT_V08_SALT: B256 =
    b256!("0x0a59dbff790c23c976a548690c27297883cc66b4c67024f9117b0238995e35e9");

/// The first two bytes of an initCode that marks an EIP-7702 sender (the rest of its first 20 bytes are zero).
pub const EIP7702_INITCODE_MARKER: [u8; 2] = [0x77, 0x02];

/// The prefix of an EIP-7702 delegation designator (`0xef0100 ‖ delegate`).
pub const EIP7702_DELEGATION_PREFIX: [u8; 3] = [0xef, 0x01, 0x00];
