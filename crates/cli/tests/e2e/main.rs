//! The `warrant` command line against real processes: anvil and the Alto bundler in safe mode (ERC-7562
//! tracing). An EOA delegates (temporary mode) and installs the validator in one type-4 transaction, its owner
//! signs a grant with the default bounded gas (a native budget that gas counts against, and `--max-gas
//! 3000000`), the session key sends in-scope operations through Alto (estimated with a dummy signature, limits
//! fitted into the caps), crosses a period boundary of its daily native spend limit, the pre-flight refuses an
//! out-of-scope one, Alto refuses it too when forced, revocation takes effect, and the pre-signed restore
//! transaction, broadcast by a stranger, restores the EOA and ends every session: after delegating again the
//! old session is not enabled and its grant is stale.
//!
//! Run with `cargo test -p warrant-cli --test e2e` (a step of `scripts/test`); it fails, never skips, when
//! anvil, node or Alto are missing.

mod demo_service;
mod readme;
mod refusals;
mod service;

use std::process::{Command, Output};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use warrant_chain::{
    ChainError,
    devnet::{Devnet, DevnetConfig, FIRST_FREE_ACCOUNT, check_tools},
};
use warrant_core::{
    IEntryPoint,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    grant::IWarrantValidator,
    policy::Call,
    session_op::{GasFields, SessionOp, session_nonce_key},
    token::SignedGrant,
};

const ETH: u128 = 1_000_000_000_000_000_000;

fn key_hex(key: &PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(key.to_bytes()))
}

struct Cli {
    rpc: String,
    bundler: String,
}

impl Cli {
    fn run(&self, args: &[&str], key: &PrivateKeySigner) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
        for var in ["WARRANT_PASSWORD", "WARRANT_KEYSTORE", "WARRANT_BUNDLER_URL", "ETH_RPC_URL"] {
            command.env_remove(var);
        }
        command
            .env("WARRANT_PRIVATE_KEY", key_hex(key))
            .env("ETH_RPC_URL", &self.rpc)
            .env("WARRANT_BUNDLER_URL", &self.bundler)
            .args(args)
            .output()
            .expect("warrant runs")
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "current_thread")]
async fn cli_session_lifecycle_through_alto() {
    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
    let cli = Cli { rpc: net.rpc_url().to_string(), bundler: net.bundler_url().to_string() };
    let eoa = PrivateKeySigner::random();
    let session = PrivateKeySigner::random();
    let payer = net.signer(FIRST_FREE_ACCOUNT).clone();
    let recipient = Address::with_last_byte(0xb0);
    net.set_balance(eoa.address(), U256::from(10 * ETH)).await.unwrap();
    let balance = |a: Address| {
        let provider = net.provider().clone();
        async move { provider.get_balance(a).await.unwrap() }
    };
    let dir = tempfile::tempdir().unwrap();
    let reset_file = dir.path().join("reset.json");
    let reset_path = reset_file.to_str().unwrap();
    let implementation = contracts.implementation.to_string();
    let validator = contracts.validator.to_string();

    // Delegate (temporary mode) and install the validator in the same type-4 transaction.
    let out = cli.run(
        &[
            "delegate",
            "--delegate",
            &implementation,
            "--install-module",
            &validator,
            "--temporary",
            reset_path,
            "--json",
        ],
        &eoa,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["delegated"], true);
    assert!(reset_file.exists());

    // The owner signs a grant: plain ETH to one recipient, ≤ 0.01 ETH a call, ≤ 0.05 ETH in all, one hour.
    let out = cli.run(
        &[
            "grant",
            "--account",
            &eoa.address().to_string(),
            "--module",
            &validator,
            "--chain-id",
            &net.chain_id().to_string(),
            "--epoch",
            "1",
            "--session-key",
            &session.address().to_string(),
            "--allow",
            &format!("{recipient}:receive:value<=0.01ether"),
            "--max-value",
            "0.2ether",
            "--spend-native",
            "0.03ether/1d",
            // Day 0 ends 90 s from now, so the test crosses a period boundary in real time: Alto checks an op's
            // window against its own clock (valid from 5 s after validAfter to 30 s before validUntil), so moving
            // only the chain's clock would not do.
            "--period-start",
            &(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 60
                - 86_400)
                .to_string(),
            "--max-gas",
            "3000000",
            "--valid-until",
            "+3d",
        ],
        &eoa,
    );
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let recipient_s = recipient.to_string();

    // First operation presents the grant (ENABLE), the second uses the enabled session.
    for _ in 0..2 {
        let before = balance(recipient).await;
        let out =
            cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.01ether", "--json"], &session);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["success"], true);
        assert_eq!(balance(recipient).await, before + U256::from(ETH / 100));
    }

    // What is left of today's native spend limit (0.03 ETH a day; 0.02 ETH sent plus the gas the two ops may
    // cost, which counts as native outflow).
    let out = cli.run(&["status", &token, "--json"], &session);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "enabled");
    let left: u128 = v["limits"][0]["remainingInPeriod"].as_str().unwrap().parse().unwrap();
    assert!(left < ETH / 100, "gas counted against the daily limit: {v}");
    assert!(left > 0, "{v}");
    let refills = v["limits"][0]["refillsAt"].as_u64().unwrap();
    assert!(refills > v["now"].as_u64().unwrap());
    let period_k = v["period"].as_u64().unwrap();

    // A third 0.01 ETH today is over the daily limit: refused by the pre-flight, by name.
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.01ether"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let refused = String::from_utf8_lossy(&out.stderr);
    assert!(
        refused.contains("pre-flight: denied — PeriodSpendLimitExceeded: the session would have moved"),
        "{}",
        text(&out)
    );
    // Amounts in ETH and the refill as a date, not wei and seconds.
    assert!(refused.contains("above its limit 0.03 ETH per period (period "), "{}", text(&out));
    assert!(refused.contains("Z); it refills at 20"), "{}", text(&out));

    // Wait (real time: Alto judges windows by its own clock) until the next period, mine a block so the chain's
    // time is there too; the same send now succeeds (period k + 1 in the signed module signature, nonce key
    // suffix 0).
    let wall = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(refills <= wall() + 100, "the period boundary is 90 s after the grant: {refills}");
    // Alto accepts an op from 5 s after its validAfter (the period's start - 1) on.
    while wall() <= refills + 7 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let provider = net.provider().clone();
    provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.unwrap();
    let before = balance(recipient).await;
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.01ether", "--json"], &session);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(balance(recipient).await, before + U256::from(ETH / 100));
    let out = cli.run(&["status", &token, "--json"], &session);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["period"].as_u64().unwrap(), period_k + 1, "{v}");
    // The new period's counter holds just this op: its 0.01 ETH plus its gas.
    let left_now: u128 = v["limits"][0]["remainingInPeriod"].as_str().unwrap().parse().unwrap();
    assert!(left_now < 2 * ETH / 100 && left_now > ETH / 100, "{v}");

    // Out of scope: the pre-flight refuses by name; forced, Alto's simulation refuses by the same name.
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.02ether"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pre-flight: denied — CallValueExceeded"),
        "{}",
        text(&out)
    );
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.02ether", "--force"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bundler: denied — CallValueExceeded"),
        "{}",
        text(&out)
    );

    // A grant signed for another chain is refused before anything is signed.
    let out = cli.run(
        &[
            "grant",
            "--account",
            &eoa.address().to_string(),
            "--module",
            &validator,
            "--chain-id",
            "1",
            "--epoch",
            "0",
            "--session-key",
            &session.address().to_string(),
            "--allow",
            &format!("{recipient}:receive:value<=0.01ether"),
            "--max-value",
            "0.01ether",
        ],
        &eoa,
    );
    assert!(out.status.success(), "{}", text(&out));
    let other_chain = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = cli.run(&["send", &other_chain, "--to", &recipient_s, "--value", "1"], &session);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the grant is for chain 1, the node is chain 31337"),
        "{}",
        text(&out)
    );

    // A second grant, enabled by its first operation and never revoked: the restore must end it.
    let out = cli.run(
        &[
            "grant",
            "--account",
            &eoa.address().to_string(),
            "--module",
            &validator,
            "--chain-id",
            &net.chain_id().to_string(),
            "--epoch",
            "1",
            "--session-key",
            &session.address().to_string(),
            "--allow",
            &format!("{recipient}:receive:value<=0.01ether"),
            "--max-value",
            "0.05ether",
            "--max-gas",
            "3000000",
            "--valid-until",
            "+1d",
        ],
        &eoa,
    );
    assert!(out.status.success(), "{}", text(&out));
    let token_b = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = cli.run(&["send", &token_b, "--to", &recipient_s, "--value", "0.001ether"], &session);
    assert!(out.status.success(), "{}", text(&out));

    // The owner revokes; the next operation is refused.
    let out = cli.run(&["revoke", &token], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.001ether"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SessionRevoked"), "{}", text(&out));

    // The restore file is private and never overwritten.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&reset_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let out = cli.run(
        &[
            "delegate",
            "--delegate",
            &implementation,
            "--install-module",
            &validator,
            "--temporary",
            reset_path,
        ],
        &eoa,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"), "{}", text(&out));

    // An undelegate with the EOA key but without --module is refused (the sessions would survive).
    let out = cli.run(&["undelegate"], &eoa);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--module"), "{}", text(&out));

    // Anyone (here a funded stranger, whose key is not even read) broadcasts the pre-signed restore: a plain
    // EOA again, and the validator's epoch for it moved (every session ended).
    let (eoa_address, validator_address) = (eoa.address(), contracts.validator);
    let epoch = |provider: alloy::providers::DynProvider| async move {
        let call = IWarrantValidator::epochOfCall { account: eoa_address };
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(validator_address)
            .input(alloy::sol_types::SolCall::abi_encode(&call).into());
        let out = provider.call(tx).await.unwrap();
        <IWarrantValidator::epochOfCall as alloy::sol_types::SolCall>::abi_decode_returns(&out).unwrap()
    };
    let epoch_before = epoch(net.provider().clone()).await;
    let out = cli.run(&["undelegate", "--auth", reset_path, "--json"], &payer);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessionsEnded"], true, "{v}");
    assert!(net.provider().get_code_at(eoa.address()).await.unwrap().is_empty());
    assert_eq!(epoch(net.provider().clone()).await, epoch_before + U256::from(1));

    // Delegate again (the module set survived the reset: installing again must not fail) ...
    let out =
        cli.run(&["delegate", "--delegate", &implementation, "--install-module", &validator, "--json"], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["delegated"].clone(), v["moduleWasInstalled"].clone()), (true.into(), true.into()), "{v}");

    // ... and the old session is dead: its grant is stale (an ENABLE would be refused) ...
    let out = cli.run(&["send", &token_b, "--to", &recipient_s, "--value", "0.001ether"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GrantEpochStale"), "{}", text(&out));
    // ... and a USE operation of it, sent to Alto directly, is refused as not enabled.
    let signed_b = SignedGrant::from_token(&token_b).unwrap();
    let bundler = net.bundler();
    let fees = bundler.user_operation_gas_price().await.unwrap();
    let key = session_nonce_key(contracts.validator, 0);
    let nonce_call = IEntryPoint::getNonceCall { sender: eoa.address(), key };
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(ENTRY_POINT_V08)
        .input(alloy::sol_types::SolCall::abi_encode(&nonce_call).into());
    let out = net.provider().call(tx).await.unwrap();
    let sequence =
        <IEntryPoint::getNonceCall as alloy::sol_types::SolCall>::abi_decode_returns(&out).unwrap();
    let op = SessionOp {
        account: eoa.address(),
        module: contracts.validator,
        chain_id: net.chain_id(),
        account_kind: AccountKind::WarrantAccount,
        calls: vec![Call { target: recipient, value: U256::from(ETH / 1000), data: vec![] }],
        gas: GasFields {
            call_gas_limit: 100_000,
            verification_gas_limit: 1_000_000,
            pre_verification_gas: 100_000,
            max_fee_per_gas: fees.max_fee_per_gas.to(),
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas.to(),
            paymaster: None,
        },
        key_suffix: 0,
        period: 0,
        sequence: (sequence & U256::from(u64::MAX)).to::<u64>(),
        eip7702: None,
    }
    .sign_use(&signed_b.grant.session, &session)
    .unwrap();
    match bundler.send_user_operation(&op.op).await {
        Err(ChainError::Bundler(e)) => assert_eq!(e.warrant_rule_name(), Some("SessionNotEnabled"), "{e}"),
        other => panic!("a USE of a session from before the restore must be refused: {other:?}"),
    }
}

/// A node that accepts connections and never answers: the command ends with a timeout error naming the
/// request, instead of hanging.
#[test]
fn a_silent_node_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold the connections (never read, never write) until the test ends.
    let _holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_warrant"))
        .env_remove("ETH_RPC_URL")
        .env_remove("WARRANT_BUNDLER_URL")
        .args(["undelegate", "--keep-sessions", "--rpc-url", &url, "--rpc-timeout", "2"])
        .env("WARRANT_PRIVATE_KEY", key_hex(&PrivateKeySigner::random()))
        .output()
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(30), "it returned in time");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timed out after 2 s waiting for an answer to eth_chainId"), "{}", text(&out));
}

/// The CLI on accounts Warrant did not write: a Kernel v3.1 and a Nexus 1.0.0 account (published bytecode), with
/// `WarrantValidator` installed by an owner operation. `grant --account-kind K --owner-validator` signs in the
/// account's ERC-1271 format; `send` and `revoke` tell the account's kind from its `accountId()` (or
/// `--account-kind`) and lay the nonce key out as the account reads it (on Nexus, `revoke` names the owner's
/// validator for the owner operation's nonce key).
#[tokio::test(flavor = "current_thread")]
async fn cli_sessions_on_a_kernel_account() {
    cli_sessions_on(AccountKind::Kernel).await;
}

#[tokio::test(flavor = "current_thread")]
async fn cli_sessions_on_a_nexus_account() {
    cli_sessions_on(AccountKind::Nexus).await;
}

async fn cli_sessions_on(kind: AccountKind) {
    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
    let foreign = net.deploy_foreign_accounts().await.unwrap_or_else(|e| panic!("deploying {kind}: {e}"));
    let owner = PrivateKeySigner::random();
    let account =
        net.create_foreign_account(kind, &foreign, owner.address(), Default::default()).await.unwrap();
    net.set_balance(account, U256::from(10 * ETH)).await.unwrap();
    let cli = Cli { rpc: net.rpc_url().to_string(), bundler: net.bundler_url().to_string() };
    let session = PrivateKeySigner::random();
    let recipient = Address::with_last_byte(0xb1);
    let validator = contracts.validator.to_string();

    // Installing the module: an owner operation built here, since the CLI installs modules only on EIP-7702
    // accounts (`delegate --install-module`).
    let owner_key = kind.adapter().owner_nonce_key(Some(foreign.owner_validator)).unwrap();
    owner_op(&net, account, owner_key, &owner, kind.install_validator(contracts.validator, &[])).await;
    let owner_validator = foreign.owner_validator.to_string();

    let out = cli.run(
        &[
            "grant",
            "--account",
            &account.to_string(),
            "--module",
            &validator,
            "--chain-id",
            &net.chain_id().to_string(),
            "--epoch",
            "0",
            "--session-key",
            &session.address().to_string(),
            "--allow",
            &format!("{recipient}:receive:value<=0.01ether"),
            "--max-value",
            "0.2ether",
            "--max-gas",
            "3000000",
            "--valid-until",
            "+1h",
            "--account-kind",
            kind.name(),
            "--owner-validator",
            &owner_validator,
        ],
        &owner,
    );
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let recipient_s = recipient.to_string();

    // ENABLE (kind detected from accountId()), then USE (kind named explicitly).
    for extra in [&[][..], &["--account-kind", kind.name()][..]] {
        let mut args = vec!["send", &token, "--to", &recipient_s, "--value", "0.01ether", "--json"];
        args.extend_from_slice(extra);
        let out = cli.run(&args, &session);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["success"], true, "{v}");
    }
    assert_eq!(net.provider().get_balance(recipient).await.unwrap(), U256::from(2 * ETH / 100));

    // Out of scope, refused by the pre-flight by name, and by Alto when forced.
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.02ether", "--force"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pre-flight: denied — CallValueExceeded"), "{}", text(&out));
    assert!(stderr.contains("bundler: denied — CallValueExceeded"), "{}", text(&out));

    // Revocation by the owner (an owner operation: Kernel's root key; on Nexus the owner validator's key, so
    // without --owner-validator the CLI names what it needs), then the session is refused.
    if kind == AccountKind::Nexus {
        let out = cli.run(&["revoke", &token], &owner);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("owner's validator"), "{}", text(&out));
    }
    let out = cli.run(&["revoke", &token, "--owner-validator", &owner_validator, "--json"], &owner);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.001ether"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SessionRevoked"), "{}", text(&out));

    // An account the CLI does not know is named as such.
    let out =
        cli.run(&["send", &token, "--to", &recipient_s, "--value", "1", "--account-kind", "safe"], &session);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown account kind \"safe\""), "{}", text(&out));
}

/// An owner operation of `account` under nonce key `key`, estimated by Alto (verification gas ×3 for anvil's tracer,
/// docs/e2e.md), signed by `owner` and awaited.
async fn owner_op(
    net: &Devnet,
    account: Address,
    key: alloy::primitives::aliases::U192,
    owner: &PrivateKeySigner,
    call_data: alloy::primitives::Bytes,
) {
    use alloy::{primitives::U128, signers::SignerSync};
    let bundler = net.bundler();
    let fees = bundler.user_operation_gas_price().await.unwrap();
    let nonce_call = IEntryPoint::getNonceCall { sender: account, key };
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(ENTRY_POINT_V08)
        .input(alloy::sol_types::SolCall::abi_encode(&nonce_call).into());
    let out = net.provider().call(tx).await.unwrap();
    let nonce = <IEntryPoint::getNonceCall as alloy::sol_types::SolCall>::abi_decode_returns(&out).unwrap();
    let mut op = warrant_core::UserOperation {
        sender: account,
        nonce,
        call_data,
        call_gas_limit: U128::from(500_000),
        verification_gas_limit: U128::from(1_000_000),
        pre_verification_gas: U256::from(200_000),
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        ..Default::default()
    };
    let sign = |op: &mut warrant_core::UserOperation| {
        let hash = op.hash(ENTRY_POINT_V08, net.chain_id(), None).unwrap();
        op.signature = owner.sign_hash_sync(&hash).unwrap().as_bytes().into();
        hash
    };
    sign(&mut op);
    bundler.estimate_user_operation_gas(&op).await.unwrap().apply(&mut op);
    op.verification_gas_limit = op.verification_gas_limit.saturating_mul(U128::from(3));
    let hash = sign(&mut op);
    bundler.send_user_operation(&op).await.unwrap();
    let receipt = bundler.wait_for_receipt(hash, std::time::Duration::from_secs(60)).await.unwrap();
    assert!(receipt.success, "owner op reverted: {:?}", receipt.reason);
}

alloy::sol! {
    function mint(address to, uint256 tokenId);
    function transferFrom(address from, address to, uint256 tokenId);
    function safeTransferFrom(address from, address to, uint256 tokenId);
}

/// A session gated on an ERC-721 "session pass" (docs/gating.md), through the CLI, anvil and Alto in safe mode:
/// `grant --require-balance` probes the token on the node and signs; a gate on a proxy token (its `balanceOf`
/// reads the implementation slot, storage ERC-7562 does not let validation read) is refused before signing;
/// `send` goes through while the pass is held, is refused by name once the owner moves it away, and goes
/// through again when it comes back.
#[tokio::test(flavor = "current_thread")]
async fn cli_gated_session_through_alto() {
    use alloy::{
        network::{EthereumWallet, TransactionBuilder},
        providers::ProviderBuilder,
        rpc::types::TransactionRequest,
        sol_types::SolCall,
    };
    use warrant_chain::artifacts::warrant_creation_code;

    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
    let pass = net.deploy(warrant_creation_code("Mocks.sol", "MockNft").unwrap()).await.unwrap();
    let token = net.deploy(warrant_creation_code("Mocks.sol", "MockToken").unwrap()).await.unwrap();
    let mut proxied_code = warrant_creation_code("Mocks.sol", "MockProxiedToken").unwrap().to_vec();
    proxied_code.extend_from_slice(&alloy::sol_types::SolValue::abi_encode(&token));
    let proxied = net.deploy(proxied_code.into()).await.unwrap();
    let cli = Cli { rpc: net.rpc_url().to_string(), bundler: net.bundler_url().to_string() };
    let eoa = PrivateKeySigner::random();
    let vault = PrivateKeySigner::random();
    let session = PrivateKeySigner::random();
    let recipient = Address::with_last_byte(0xb0);
    net.set_balance(eoa.address(), U256::from(10 * ETH)).await.unwrap();
    net.set_balance(vault.address(), U256::from(ETH)).await.unwrap();
    let mint_pass = mintCall { to: eoa.address(), tokenId: U256::from(1) }.abi_encode();
    net.send(TransactionRequest::default().with_to(pass).with_input(mint_pass)).await.unwrap();
    let validator = contracts.validator.to_string();

    let out = cli.run(
        &["delegate", "--delegate", &contracts.implementation.to_string(), "--install-module", &validator],
        &eoa,
    );
    assert!(out.status.success(), "{}", text(&out));

    let grant = |gate: &str| {
        cli.run(
            &[
                "grant",
                "--account",
                &eoa.address().to_string(),
                "--module",
                &validator,
                "--chain-id",
                &net.chain_id().to_string(),
                "--epoch",
                "1",
                "--session-key",
                &session.address().to_string(),
                "--allow",
                &format!("{recipient}:receive:value<=0.01ether"),
                "--max-value",
                "0.2ether",
                "--max-gas",
                "3000000",
                "--valid-until",
                "+1d",
                "--require-balance",
                gate,
            ],
            &eoa,
        )
    };
    // Refused before signing: the proxy's balanceOf reads a slot not associated with the account.
    let out = grant(&format!("erc20:{proxied}:1"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not signed") && err.contains("STO-021"), "{}", text(&out));
    assert!(out.stdout.is_empty(), "no token printed: {}", text(&out));

    let out = grant(&format!("erc721:{pass}:1"));
    assert!(out.status.success(), "{}", text(&out));
    let grant_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(String::from_utf8_lossy(&out.stderr).contains("only while the account holds at least 1 NFT"));
    let recipient_s = recipient.to_string();
    let send = || cli.run(&["send", &grant_token, "--to", &recipient_s, "--value", "0.001ether"], &session);

    let out = send();
    assert!(out.status.success(), "held: {}", text(&out));
    let out = cli.run(&["status", &grant_token, "--json"], &session);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gates"][0]["open"], true, "{v}");

    // The owner moves the pass to another wallet: the next op is refused by the pre-flight, by name.
    let owner =
        ProviderBuilder::new().wallet(EthereumWallet::from(eoa.clone())).connect_http(net.rpc_url().clone());
    let away =
        transferFromCall { from: eoa.address(), to: vault.address(), tokenId: U256::from(1) }.abi_encode();
    let tx = TransactionRequest::default().with_to(pass).with_input(away);
    assert!(owner.send_transaction(tx).await.unwrap().get_receipt().await.unwrap().status());
    let out = send();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GateNotHeld: gate 0"), "{}", text(&out));
    // Forced past the pre-flight, Alto refuses it with the same rule.
    let out =
        cli.run(&["send", &grant_token, "--to", &recipient_s, "--value", "0.001ether", "--force"], &session);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GateNotHeld"), "{}", text(&out));

    // Back by a safe transfer (the delegated EOA accepts ERC-721s): the session acts again, nothing re-signed.
    let holder = ProviderBuilder::new()
        .wallet(EthereumWallet::from(vault.clone()))
        .connect_http(net.rpc_url().clone());
    let back = safeTransferFromCall { from: vault.address(), to: eoa.address(), tokenId: U256::from(1) }
        .abi_encode();
    let tx = TransactionRequest::default().with_to(pass).with_input(back);
    assert!(holder.send_transaction(tx).await.unwrap().get_receipt().await.unwrap().status());
    let out = send();
    assert!(out.status.success(), "back: {}", text(&out));
}
