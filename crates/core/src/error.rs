use alloy_primitives::Address;

/// Errors of Warrant's pure logic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// The operation's initCode carries the EIP-7702 marker, so its hash depends on the sender's delegate,
    /// which the caller did not supply.
    #[error(
        "user operation of {sender} is an EIP-7702 operation: its hash needs the sender's delegate address"
    )]
    MissingEip7702Delegate {
        /// The operation's sender.
        sender: Address,
    },
    /// A packed gas or fee field does not fit the 16 bytes the EntryPoint gives it.
    #[error("{field} = {value} does not fit in 128 bits")]
    FieldTooLarge {
        /// The field's name in the wire form.
        field: &'static str,
        /// Its value.
        value: String,
    },
}
