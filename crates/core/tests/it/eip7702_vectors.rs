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

/// The vectors of viem (wevm/viem), a TypeScript implementation independent of alloy and Trust Wallet Core:
/// authorization hashes from `src/utils/authorization/hashAuthorization.test.ts` (commit 5d809c00, the final
/// `keccak256(0x05 ‖ rlp([chain_id, address, nonce]))` form; earlier viem versions snapshot drafts of the EIP),
/// and the signature of `src/accounts/utils/signAuthorization.test.ts` (commit 9b22b35f, test "args: to (hex)":
/// viem's test account 0, i.e. anvil's first key, from `test/src/constants.ts`; the contract is viem's
/// `wagmiContractConfig.address`). Only the values are taken.
#[test]
fn viem_vectors() {
    let wagmi = address!("0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2");
    let other = address!("0xbe95c3f554e9fc85ec51be69a3d807a0d55bcf2c");
    let hashes = [
        (other, 1, 40, b256!("0x5919da563810a99caf657d42bd10905adbd28b3b89b8a4577efa471e5e4b3914")),
        (wagmi, 69, 420, b256!("0x9aeacccc1b8571dfc4fb4ba734dbde6e94d6c0188484413585144a755c359aac")),
        (other, 0, 0, b256!("0x70f22b957bc18cbaa757a12cc3e5fa5268b98b24afe15a35a76e6874748a8bfa")),
        // The same test's byte-array snapshot of (wagmi, 1, 0), written here in hex.
        (wagmi, 1, 0, b256!("0xa357bcb1f69e88d2c170904a18bc5bb8fe25872923a8d0a92f3e57c2d6df35cb")),
    ];
    for (delegate, chain_id, nonce, expected) in hashes {
        let scope = if chain_id == 0 { ChainScope::AnyChain } else { ChainScope::ThisChainOnly };
        let auth = authorization(chain_id, delegate, nonce, scope).unwrap();
        assert_eq!(auth.signature_hash(), expected, "hash of ({delegate}, {chain_id}, {nonce})");
    }

    // Signing (wagmi, chain 1, nonce 0) with anvil's first key gives viem's signature r ‖ s ‖ v (v = 27).
    let key = b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    let signer = Key(SigningKey::from_bytes(&key.0.into()).unwrap());
    let auth = authorization(1, wagmi, 0, ChainScope::ThisChainOnly).unwrap();
    let signed = sign_authorization(&signer, auth).unwrap();
    let r = b256!("0xff5d79daa56d5aae2657e8950af71377f8c2860255a9c915948c071ef9286def");
    let s = b256!("0x17318a10ff56f0000a350a210fdb312ba22260a64f38dddc135912a6c4795c1d");
    assert_eq!(signed.r(), U256::from_be_bytes(r.0));
    assert_eq!(signed.s(), U256::from_be_bytes(s.0));
    assert_eq!(signed.y_parity(), 0, "v = 0x1b = 27, i.e. y parity 0");
    // Recovery goes the other way: viem's tuple recovers to anvil's first address.
    assert_eq!(recover_authority(&signed).unwrap(), address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
    let rlp = encode_signed_authorization(&signed);
    assert_eq!(decode_signed_authorization(&rlp).unwrap(), signed);
}
