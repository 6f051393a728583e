use alloy_primitives::{U256, address, b256};
use alloy_signer::k256::ecdsa::SigningKey;

use crate::support::Key;
use warrant_core::eip7702::{
    ChainScope, authorization, decode_signed_authorization, encode_signed_authorization, recover_authority,
    sign_authorization,
};

/// Trust Wallet Core's EIP-7702 test vector (`TestEip7702.testSignAuthorization`, which they verified with viem):
/// chain 1, delegate 0xB91a…2bf1, nonce 1.
#[test]
fn trust_wallet_core_vector() {
    let key = b256!("0x947dd69af402e7f48da1b845dfc1df6be593d01a0d8274bd03ec56712e7164e8");
    let auth = authorization(
        1,
        address!("0xB91aaa96B138A1B1D94c9df4628187132c5F2bf1"),
        1,
        ChainScope::ThisChainOnly,
    )
    .unwrap();
    assert_eq!(
        auth.signature_hash(),
        b256!("0x3ae543b2fa103a39a6985d964a67caed05f6b9bb2430ad6d498cda743fe911d9")
    );
    let signer = Key(SigningKey::from_bytes(&key.0.into()).unwrap());
    let signed = sign_authorization(&signer, auth).unwrap();
    assert_eq!(signed.y_parity(), 1);
    assert_eq!(
        signed.r(),
        U256::from_be_bytes(b256!("0x2c39f2f64441dd38c364ee175dc6b9a87f34ca330bce968f6c8e22811e3bb710").0)
    );
    assert_eq!(
        signed.s(),
        U256::from_be_bytes(b256!("0x5f1bcde93dee4b214e60bc0e63babcc13e4fecb8a23c4098fd89844762aa012c").0)
    );
    // The authority recovers to the key's address, and the tuple survives an RLP round trip.
    let authority = recover_authority(&signed).unwrap();
    assert_eq!(authority, alloy_primitives::Address::from_private_key(&signer.0));
    let rlp = encode_signed_authorization(&signed);
    assert_eq!(decode_signed_authorization(&rlp).unwrap(), signed);
    let mut trailing = rlp.clone();
    trailing.push(0);
    assert!(decode_signed_authorization(&trailing).is_err());
    assert!(decode_signed_authorization(&rlp[..rlp.len() - 1]).is_err());
}
