//! Refusals by name, with the exit codes the README promises (1 for a refusal naming a rule, 2 for bad input),
//! and commands that read the chain first instead of spending gas for nothing: `undelegate` of a plain EOA,
//! `revoke` of a revoked session, `revoke` with `--account`/`--module` that disagree with the grant; a bundler's
//! refusals named (`AccountNotDeployed` for an undelegated EOA, `InsufficientPrefund`, a token's
//! `ERC20InsufficientBalance`), a delegation transaction that would revert named (`FailedCall`), and `--json`
//! errors as JSON on stderr.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use warrant_chain::devnet::{DEV_EOA, Devnet, DevnetConfig, check_tools};

use crate::{Cli, text};

fn json_error(out: &std::process::Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON error: {stderr}"));
    serde_json::from_str(line).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn refusals_are_named_and_read_the_chain_first() {
    if let Err(e) = check_tools() {
        panic!("the end-to-end tests need anvil, node and Alto: {e}");
    }
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let env = net.dev_environment().await.unwrap_or_else(|e| panic!("dev environment: {e}"));
    let cli = Cli { rpc: net.rpc_url().to_string(), bundler: net.bundler_url().to_string() };
    let eoa = net.signer(DEV_EOA).clone();
    let session = PrivateKeySigner::random();
    let (validator, implementation) =
        (env.contracts.validator.to_string(), env.contracts.implementation.to_string());
    let token = env.token.to_string();
    let nonce = |a: Address| {
        let provider = net.provider().clone();
        async move { provider.get_transaction_count(a).await.unwrap() }
    };

    // undelegate of a plain EOA: refused by name before any transaction.
    let before = nonce(eoa.address()).await;
    let out = cli.run(&["undelegate", "--keep-sessions"], &eoa);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotDelegated"), "{}", text(&out));
    assert_eq!(nonce(eoa.address()).await, before, "nothing was sent");

    // A grant for the plain EOA, sent: the bundler refuses it as AccountNotDeployed (exit 1, JSON with the rule).
    let grant = |extra: &[&str]| {
        let (account, key) = (eoa.address().to_string(), session.address().to_string());
        let allow = format!("{token}:transfer(address,uint256)");
        let mut args = vec![
            "grant",
            "--account",
            &account,
            "--module",
            &validator,
            "--session-key",
            &key,
            "--allow",
            &allow,
            "--max-value",
            "1ether",
        ];
        args.extend_from_slice(extra);
        let out = cli.run(&args, &eoa);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let bob = env.recipient.to_string();
    let early = grant(&["--epoch", "0"]);
    let send = |grant: &str, amount: &str| {
        vec![
            "send".to_owned(),
            grant.to_owned(),
            "--to".into(),
            token.clone(),
            "--sig".into(),
            "transfer(address,uint256)".into(),
            bob.clone(),
            amount.to_owned(),
            "--account-kind".into(),
            "warrant".into(),
            "--json".into(),
        ]
    };
    let args = send(&early, "1");
    let out = cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let e = json_error(&out);
    assert_eq!(e["error"], "refused", "{e}");
    assert_eq!(e["rule"], "AccountNotDeployed", "{e}");

    // A delegation whose transaction would revert (the "validator" is the token: its revokeAll call reverts with
    // no data) is refused by the revert's name at the node's gas estimate, and nothing is sent.
    let before = nonce(eoa.address()).await;
    let out =
        cli.run(&["delegate", "--delegate", &implementation, "--install-module", &token, "--json"], &eoa);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let e = json_error(&out);
    assert_eq!((e["error"].as_str(), e["rule"].as_str()), (Some("refused"), Some("FailedCall")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("reverted without a reason"), "{e}");
    assert_eq!(nonce(eoa.address()).await, before, "nothing was sent");

    // Delegate; a grant of the new epoch (read from the node).
    let out = cli.run(&["delegate", "--delegate", &implementation, "--install-module", &validator], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    let token_grant = grant(&[]);

    // A token error: more MOCK than the account holds, refused at the bundler's estimation as the token's error.
    let too_much = (env.token_balance + U256::from(1)).to_string();
    let args = send(&token_grant, &too_much);
    let out = cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json_error(&out)["rule"], "ERC20InsufficientBalance", "{}", text(&out));

    // Not enough ETH for the prefund: InsufficientPrefund.
    let balance = net.provider().get_balance(eoa.address()).await.unwrap();
    net.set_balance(eoa.address(), U256::from(1000)).await.unwrap();
    let args = send(&token_grant, "1");
    let out = cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &session);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json_error(&out)["rule"], "InsufficientPrefund", "{}", text(&out));
    net.set_balance(eoa.address(), balance).await.unwrap();

    // revoke with --account / --module that disagree with the grant: bad input, nothing read or sent.
    for (flag, other) in [("--account", bob.as_str()), ("--module", token.as_str())] {
        let out = cli.run(&["revoke", &token_grant, flag, other], &eoa);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("disagrees with the grant"), "{}", text(&out));
    }
    // Agreeing flags are fine; the revocation goes through once, and the second is refused before any gas.
    let out = cli.run(&["revoke", &token_grant, "--account", &eoa.address().to_string()], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    let balance = net.provider().get_balance(eoa.address()).await.unwrap();
    let out = cli.run(&["revoke", &token_grant], &eoa);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SessionRevoked"), "{}", text(&out));
    assert_eq!(net.provider().get_balance(eoa.address()).await.unwrap(), balance, "no gas spent");
    // After revoke --all, a grant of the old epoch is stale: said so, nothing sent.
    let live = grant(&["--max-uses", "20"]);
    let out =
        cli.run(&["revoke", "--all", "--account", &eoa.address().to_string(), "--module", &validator], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    // status says revoked, with both epochs, and shows no counters as if they were usable.
    let out = cli.run(&["status", &live], &eoa);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("REVOKED") && report.contains("GrantEpochStale"), "{report}");
    assert!(!report.contains("of 20"), "no usable-looking counters: {report}");
    let out = cli.run(&["status", &live, "--json"], &eoa);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["usable"].clone(), v["accountEpoch"].clone()), (false.into(), "2".into()), "{v}");
    let out = cli.run(&["revoke", &live, "--json"], &eoa);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(json_error(&out)["rule"], "GrantEpochStale", "{}", text(&out));
}
