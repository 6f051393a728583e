//! warrant-client without a network: the restore file's checks, the refusal decoding, and the state reader on
//! the in-process chain.

use alloy::{
    primitives::{Address, B256, Bytes, U256, aliases::U48},
    signers::local::PrivateKeySigner,
    sol_types::SolError,
};
use warrant_chain::{
    ChainConfig, ChainError, DevChain, artifacts,
    bundler::{BundlerErrorKind, BundlerRpcError},
};
use warrant_client::{ClientError, RESTORE_FILE_KIND, RestoreFile, SessionReport, SessionState, SessionView};
use warrant_core::{
    eip7702::{RESTORE_GAS_LIMIT, RestoreTx, sign_restore_transaction},
    grant::{NO_CAP, Session, SpendLimit, WarrantErrors},
    policy::{Denial, Presentation},
};

fn restore_file(eoa: &PrivateKeySigner, validator: Address, nonce: u64) -> RestoreFile {
    let tx = RestoreTx {
        chain_id: 31337,
        nonce,
        max_priority_fee_per_gas: 1,
        max_fee_per_gas: 10,
        gas_limit: RESTORE_GAS_LIMIT,
        validator,
    };
    let signed = sign_restore_transaction(eoa, tx).unwrap();
    RestoreFile {
        kind: RESTORE_FILE_KIND.into(),
        account: eoa.address(),
        chain_id: 31337,
        validator,
        nonce,
        max_fee_per_gas: 10,
        transaction_hash: signed.hash,
        raw_transaction: signed.raw,
    }
}

fn reread(file: &RestoreFile) -> Result<RestoreFile, ClientError> {
    RestoreFile::from_json(&serde_json::to_string(file).unwrap())
}

#[test]
fn a_restore_file_must_be_what_it_says() {
    let eoa = PrivateKeySigner::random();
    let validator = Address::with_last_byte(7);
    let good = restore_file(&eoa, validator, 4);
    assert_eq!(reread(&good).unwrap(), good);

    let refused = |file: RestoreFile, why: &str| match reread(&file) {
        Err(ClientError::Restore(message)) => assert!(message.contains(why), "{message}"),
        other => panic!("{why}: {other:?}"),
    };
    refused(
        RestoreFile { account: Address::with_last_byte(1), ..good.clone() },
        "not sent by the file's account",
    );
    refused(
        RestoreFile { validator: Address::with_last_byte(8), ..good.clone() },
        "does not call the file's",
    );
    refused(RestoreFile { chain_id: 1, ..good.clone() }, "chain id is not the file's");
    refused(RestoreFile { nonce: 5, ..good.clone() }, "nonce is not the file's");
    refused(RestoreFile { kind: "something-else".into(), ..good.clone() }, "kind");
    let cut = Bytes::copy_from_slice(&good.raw_transaction[..good.raw_transaction.len() - 3]);
    refused(RestoreFile { raw_transaction: cut, ..good.clone() }, "does not decode");
    // Another EOA's restore under this file's account.
    let other = restore_file(&PrivateKeySigner::random(), validator, 4);
    refused(RestoreFile { raw_transaction: other.raw_transaction, ..good.clone() }, "not sent by");
    // Not a restore file at all.
    assert!(matches!(RestoreFile::from_json("{\"kind\": 1}"), Err(ClientError::Restore(_))));
}

#[test]
fn a_bundler_refusal_carries_the_validators_rule() {
    let rule = WarrantErrors::SessionRevoked { id: B256::with_last_byte(9) };
    let refusal = BundlerRpcError {
        method: "eth_sendUserOperation".into(),
        code: -32500,
        kind: BundlerErrorKind::from_code(-32500),
        message: format!("AA23 reverted {}", alloy::hex::encode_prefixed(rule.abi_encode())),
        data: None,
    };
    let e = ClientError::from(ChainError::Bundler(refusal));
    assert!(e.is_refusal());
    assert_eq!(e.denial(), Some(&Denial::SessionRevoked { id: B256::with_last_byte(9) }));
    assert!(e.to_string().starts_with("bundler: denied — SessionRevoked"), "{e}");

    // Without revert data the refusal is still one, with no rule.
    let bare = BundlerRpcError {
        method: "eth_sendUserOperation".into(),
        code: -32507,
        kind: BundlerErrorKind::from_code(-32507),
        message: "AA24 signature error".into(),
        data: None,
    };
    let e = ClientError::from(ChainError::Bundler(bare));
    assert!(e.is_refusal() && e.denial().is_none(), "{e}");
    // A transport failure is not a refusal.
    let e = ClientError::from(ChainError::Transport { method: "eth_call".into(), reason: "refused".into() });
    assert!(!e.is_refusal());
}

/// The one reader on the in-process chain: a session never enabled reads as such, the period comes from the
/// chain's clock, and the report says what each limit has left.
#[test]
fn a_session_read_on_the_in_process_chain() {
    let mut chain = DevChain::new(ChainConfig::default()).unwrap();
    let validator = chain
        .deploy(artifacts::warrant_creation_code("WarrantValidator.sol", "WarrantValidator").unwrap())
        .unwrap();
    let account = Address::with_last_byte(0xaa);
    let now = chain.timestamp();
    let session = Session {
        signer: Address::with_last_byte(0x5e),
        salt: B256::ZERO,
        scope: warrant_core::grant::Scope {
            validUntil: U48::from(now + 3600),
            period: 100,
            periodStart: U48::from(now - 250),
            limits: vec![SpendLimit { token: Address::ZERO, perPeriod: 1000, lifetime: NO_CAP }],
            ..Default::default()
        },
    };
    let view = SessionView::read_in(&mut chain, validator, account, &session).unwrap();
    assert_eq!(view.presentation(), Presentation::Enable);
    assert_eq!(view.period(), 2);
    assert_eq!(view.epoch, U256::ZERO);
    assert_eq!(
        view.check_grant_epoch(1),
        Err(Denial::GrantEpochStale { grant_epoch: 1, current_epoch: U256::ZERO })
    );
    let report = SessionReport::new(&view, Some(0));
    assert_eq!(report.state, SessionState::NotYetEnabled);
    assert_eq!(report.refills_at, Some(now - 250 + 300));
    assert_eq!(report.limits[0].remaining_in_period, Some(1000));
    assert_eq!(report.limits[0].remaining_lifetime, None);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["state"], "notYetEnabled");
    assert_eq!(json["valueSpent"], "0");
    assert_eq!(json["limits"][0]["remainingInPeriod"], "1000");

    // A grant of an older epoch reads as revoked with the epoch.
    assert_eq!(SessionReport::new(&view, Some(3)).state, SessionState::EpochRevoked);
}
