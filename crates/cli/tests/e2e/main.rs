//! The `warrant` command line against real processes: anvil and the Alto bundler in safe mode (ERC-7562
//! tracing). An EOA delegates (temporary mode) and installs the validator in one type-4 transaction, its owner
//! signs a grant, the session key sends in-scope operations through Alto, the pre-flight refuses an
//! out-of-scope one, Alto refuses it too when forced, revocation takes effect, and the pre-signed reset
//! authorization restores the EOA. The session carries a daily native spend limit, so its operations name their
//! period in the nonce key and Alto's ERC-7562 tracing sees the spend counters.
//!
//! Run with `cargo test -p warrant-cli --test e2e` (a step of `scripts/test`); it fails, never skips, when
//! anvil, node or Alto are missing.

use std::process::{Command, Output};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use warrant_chain::devnet::{Devnet, DevnetConfig, FIRST_FREE_ACCOUNT, check_tools};

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
            "0",
            "--session-key",
            &session.address().to_string(),
            "--allow",
            &format!("{recipient}:receive:value<=0.01ether"),
            "--max-value",
            "0.05ether",
            "--spend-native",
            "0.03ether/1d",
            "--valid-until",
            "+1h",
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

    // What is left of today's native spend limit (0.03 ETH a day, 0.02 ETH sent).
    let out = cli.run(&["status", &token, "--json"], &session);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "enabled");
    assert_eq!(v["limits"][0]["remainingInPeriod"], (ETH / 100).to_string(), "{v}");
    assert!(v["limits"][0]["refillsAt"].as_u64().unwrap() > v["now"].as_u64().unwrap());

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
        String::from_utf8_lossy(&out.stderr)
            .contains("refused: the bundler refused the operation: CallValueExceeded"),
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
        ],
        &eoa,
    );
    let other_chain = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = cli.run(&["send", &other_chain, "--to", &recipient_s, "--value", "1"], &session);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the grant is for chain 1, the node is chain 31337"),
        "{}",
        text(&out)
    );

    // The owner revokes; the next operation is refused.
    let out = cli.run(&["revoke", &token], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli.run(&["send", &token, "--to", &recipient_s, "--value", "0.001ether"], &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SessionRevoked"), "{}", text(&out));

    // Anyone (here a funded stranger) broadcasts the pre-signed reset: a plain EOA again.
    let out = cli.run(&["undelegate", "--auth", reset_path, "--json"], &payer);
    assert!(out.status.success(), "{}", text(&out));
    assert!(net.provider().get_code_at(eoa.address()).await.unwrap().is_empty());
}
