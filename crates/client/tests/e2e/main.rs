//! warrant-client against real processes: anvil (Osaka) and Alto in safe mode. One EOA's whole life through the
//! library: `delegate` (temporary, installing the validator), `send` (ENABLE then USE), a pre-flight denial,
//! a period boundary crossed, `status`, `revoke`, `revoke_all`, `undelegate` with the pre-signed restore.
//!
//! Run with `cargo test -p warrant-client --test e2e` (a step of `scripts/test`); a machine without anvil, node
//! or Alto fails with the missing tool named.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::{
    primitives::{Address, B256, U256, aliases::U48},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use warrant_chain::devnet::{Devnet, DevnetConfig, check_tools};
use warrant_client::{Client, ClientError, ClientOptions, OwnerKey, Restore, SendOptions, SessionState};
use warrant_core::{
    CoreError,
    grant::{CallPolicy, Grant, Scope, Session},
    p256::{P256Kind, P256Signer},
    policy::{Call, Denial},
    session_op::sign_grant,
    token::SignedGrant,
};

const ETH: u128 = 1_000_000_000_000_000_000;
/// Long enough for Alto: it accepts an operation from 5 s after its window opens to 30 s before it closes.
const PERIOD: u64 = 60;

fn wall() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Native payments to `recipient`, at most 0.01 ETH each and one operation per period, 0.2 ETH in all (gas
/// included: the account pays it), for an hour. Period 0 started 8 s ago.
fn payments(signer: Address, recipient: Address) -> Session {
    let now = wall();
    Session {
        signer,
        salt: B256::random(),
        scope: Scope {
            validUntil: U48::from(now + 3600),
            maxUses: 10,
            maxValueTotal: U256::from(ETH / 5),
            calls: vec![CallPolicy {
                target: recipient,
                selector: Default::default(),
                flags: 0,
                maxValue: U256::from(ETH / 100),
                conditions: vec![],
            }],
            period: PERIOD as u32,
            periodStart: U48::from(now - 8),
            maxUsesPerPeriod: 1,
            ..Default::default()
        },
    }
}

fn pay(recipient: Address, wei: u128) -> Vec<Call> {
    vec![Call { target: recipient, value: U256::from(wei), data: vec![] }]
}

#[tokio::test]
async fn an_eoa_life_through_the_client() {
    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let contracts = net.deploy_warrant().await.unwrap();
    let client =
        Client::connect(net.rpc_url().clone(), Some(net.bundler_url().clone()), ClientOptions::default())
            .await
            .unwrap();
    let balance = async |a: Address| net.provider().get_balance(a).await.unwrap();

    // delegate: temporary, installing the validator (the same transaction bumps the epoch to 1).
    let eoa = PrivateKeySigner::random();
    let account = eoa.address();
    net.set_balance(account, U256::from(10 * ETH)).await.unwrap();
    let d = client.delegate(&eoa, contracts.implementation, Some(contracts.validator), true).await.unwrap();
    assert!(d.succeeded(), "{:?}", d.receipt);
    assert_eq!(d.module_was_installed, Some(false));
    let restore = d.restore.expect("a temporary delegation signs its restore");
    assert_eq!(client.epoch(contracts.validator, account).await.unwrap(), U256::from(1));

    // A grant the owner signs off chain.
    let session_key = PrivateKeySigner::random();
    let recipient = Address::random();
    let session = payments(session_key.address(), recipient);
    let grant = Grant { account, epoch: 1, session: session.clone() };
    let grant: SignedGrant = sign_grant(grant, contracts.validator, client.chain_id(), &eoa).unwrap();
    let status = client.status(&grant).await.unwrap();
    assert_eq!(status.state, SessionState::NotYetEnabled);
    assert_eq!(status.period, Some(0));

    // send: the first operation presents the grant (ENABLE).
    let options = SendOptions::default();
    let receipt = client.send(&grant, &session_key, pay(recipient, ETH / 100), &options).await.unwrap();
    assert!(receipt.success);
    assert_eq!(balance(recipient).await, U256::from(ETH / 100));
    let status = client.status(&grant).await.unwrap();
    assert_eq!((status.state, status.uses, status.uses_in_period), (SessionState::Enabled, 1, 1));
    assert!(status.value_spent > ETH / 100, "gas counts against the native budget: {status:?}");

    // Out of scope: refused before anything is signed, by name.
    let over = client.send(&grant, &session_key, pay(recipient, ETH / 50), &options).await;
    assert!(
        matches!(over, Err(ClientError::Denied { denial: Denial::CallValueExceeded { .. }, .. })),
        "{over:?}"
    );
    assert_eq!(
        over.unwrap_err().to_string(),
        "pre-flight: denied — CallValueExceeded: the call sends 0.02 ETH, above its policy's limit 0.01 ETH"
    );
    // One operation per period: the second in period 0 is refused by the pre-flight.
    let again = client.send(&grant, &session_key, pay(recipient, ETH / 100), &options).await;
    assert!(
        matches!(again, Err(ClientError::Denied { denial: Denial::PeriodUsesExhausted { .. }, .. })),
        "{again:?}"
    );
    // Forced past the pre-flight, the bundler refuses it with the same rule.
    let forced = SendOptions { force: true, ..SendOptions::default() };
    let prepared = client.prepare(&grant, &session_key, pay(recipient, ETH / 100), &forced).await.unwrap();
    assert!(matches!(prepared.denial, Some(Denial::PeriodUsesExhausted { .. })), "{prepared:?}");
    let refused = client.submit(&prepared).await;
    match &refused {
        Err(e @ ClientError::Refused { .. }) => {
            assert_eq!(e.denial().map(Denial::name), Some("PeriodUsesExhausted"), "{e}")
        }
        other => panic!("the bundler must refuse a second op in the period: {other:?}"),
    }

    // A period boundary, crossed in real time (Alto judges windows by its clock): period 1 opens, the op names
    // it, and the bundler accepts it.
    let refills = status.refills_at.expect("a scope with periods refills");
    while wall() < refills + 6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // anvil mines only on demand and Alto simulates on the latest block: a block now, as a live chain would
    // have, so the simulation's clock is in period 1 too.
    net.provider().raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    // Through nonce lane 7: its own sequence (0), under the key the account reads the validator from.
    let lane = SendOptions { nonce_lane: 7, ..SendOptions::default() };
    let prepared = client.prepare(&grant, &session_key, pay(recipient, ETH / 100), &lane).await.unwrap();
    assert_eq!(prepared.period, 1);
    let kind = client.account_kind(account, None).await.unwrap();
    assert_eq!(prepared.nonce, kind.nonce(contracts.validator, 7, 0).unwrap(), "lane 7, sequence 0");
    let hash = client.submit(&prepared).await.unwrap();
    assert_eq!(hash, prepared.hash, "the bundler's userOpHash is the one recorded before sending");
    let receipt = client.wait(hash, Duration::from_secs(60)).await.unwrap();
    assert!(receipt.success);
    assert_eq!(client.receipt(hash).await.unwrap().map(|r| r.user_op_hash), Some(hash));
    let status = client.status(&grant).await.unwrap();
    assert_eq!((status.period, status.uses, status.uses_in_period), (Some(1), 2, 1), "{status:?}");

    // revoke: the owner ends this session; its next operation is refused by name.
    let owner = OwnerKey::new(&eoa);
    let r = client.revoke(account, contracts.validator, grant.session_id(), &owner).await.unwrap();
    assert!(r.success);
    assert_eq!(client.status(&grant).await.unwrap().state, SessionState::Revoked);
    let after = client.send(&grant, &session_key, pay(recipient, ETH / 100), &options).await;
    assert!(
        matches!(after, Err(ClientError::Denied { denial: Denial::SessionRevoked { .. }, .. })),
        "{after:?}"
    );

    // revoke_all: a second grant, never presented, dies with the epoch.
    let second = Grant { account, epoch: 1, session: payments(session_key.address(), recipient) };
    let second = sign_grant(second, contracts.validator, client.chain_id(), &eoa).unwrap();
    assert!(client.revoke_all(account, contracts.validator, &owner).await.unwrap().success);
    assert_eq!(client.status(&second).await.unwrap().state, SessionState::EpochRevoked);
    let stale = client.send(&second, &session_key, pay(recipient, ETH / 100), &options).await;
    assert!(
        matches!(stale, Err(ClientError::Denied { denial: Denial::GrantEpochStale { .. }, .. })),
        "{stale:?}"
    );

    // undelegate: anyone broadcasts the pre-signed restore; the EOA is plain again and its sessions ended.
    let before = client.epoch(contracts.validator, account).await.unwrap();
    let u = client.undelegate(Restore::Presigned(restore)).await.unwrap();
    assert!(u.succeeded(), "{u:?}");
    assert!(u.restored && u.sessions_ended);
    assert!(u.epoch.unwrap() > before);
    assert!(net.provider().get_code_at(account).await.unwrap().is_empty());
}

/// A grant for another chain is refused naming both chains; without a bundler, sending is refused as such
/// before any request.
#[tokio::test]
async fn a_grant_for_another_chain_and_a_missing_bundler_are_named() {
    check_tools().unwrap();
    let net = Devnet::start(DevnetConfig::default()).await.unwrap();
    let client = Client::connect(net.rpc_url().clone(), None, ClientOptions::default()).await.unwrap();
    let key = PrivateKeySigner::random();
    let session = payments(key.address(), Address::random());
    let grant = Grant { account: key.address(), epoch: 0, session };
    let grant = sign_grant(grant, Address::with_last_byte(1), client.chain_id() + 1, &key).unwrap();
    match client.status(&grant).await {
        Err(ClientError::WrongChain { expected, actual, .. }) => {
            assert_eq!((expected, actual), (client.chain_id() + 1, client.chain_id()))
        }
        other => panic!("a grant for another chain: {other:?}"),
    }
    let sent = client.send(&grant, &key, vec![], &SendOptions::default()).await;
    assert!(matches!(sent, Err(ClientError::WrongChain { .. })), "{sent:?}");
    let fresh =
        Grant { account: key.address(), epoch: 0, session: payments(key.address(), Address::random()) };
    let fresh = sign_grant(fresh, Address::with_last_byte(1), client.chain_id(), &key).unwrap();
    let sent = client.send(&fresh, &key, vec![], &SendOptions::default()).await;
    assert!(matches!(sent, Err(ClientError::NoBundler)), "{sent:?}");
}

/// A WebCrypto P-256 session key sends through the same flow: estimated with a P-256 estimation signature,
/// ENABLE then USE mined through Alto, a wrong key named before anything is sent.
#[tokio::test]
async fn a_p256_session_key_sends_through_the_client() {
    check_tools().unwrap();
    let net = Devnet::start(DevnetConfig::default()).await.unwrap();
    let contracts = net.deploy_warrant().await.unwrap();
    let client =
        Client::connect(net.rpc_url().clone(), Some(net.bundler_url().clone()), ClientOptions::default())
            .await
            .unwrap();
    let eoa = PrivateKeySigner::random();
    net.set_balance(eoa.address(), U256::from(10 * ETH)).await.unwrap();
    let d = client.delegate(&eoa, contracts.implementation, Some(contracts.validator), false).await.unwrap();
    assert!(d.succeeded());

    let key = P256Signer::from_bytes(P256Kind::WebCrypto, &B256::random().0).unwrap();
    let recipient = Address::random();
    let mut session = payments(key.signer(), recipient);
    session.scope.maxUsesPerPeriod = 0;
    session.scope.period = 0;
    session.scope.periodStart = U48::ZERO;
    let grant = Grant { account: eoa.address(), epoch: 1, session };
    let grant = sign_grant(grant, contracts.validator, client.chain_id(), &eoa).unwrap();
    for _ in 0..2 {
        let receipt =
            client.send(&grant, &key, pay(recipient, ETH / 100), &SendOptions::default()).await.unwrap();
        assert!(receipt.success);
    }
    assert_eq!(net.provider().get_balance(recipient).await.unwrap(), U256::from(2 * ETH / 100));
    assert_eq!(client.status(&grant).await.unwrap().uses, 2);

    let other = P256Signer::from_bytes(P256Kind::WebCrypto, &B256::random().0).unwrap();
    let wrong = client.send(&grant, &other, pay(recipient, ETH / 100), &SendOptions::default()).await;
    assert!(matches!(wrong, Err(ClientError::Core(CoreError::SessionKeyMismatch { .. }))), "{wrong:?}");
}
