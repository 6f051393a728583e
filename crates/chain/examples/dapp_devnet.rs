//! The network behind `scripts/dapp`: anvil + Alto with EntryPoint v0.8, Warrant's contracts, and a
//! `WarrantAccount` with `WarrantValidator` installed, owned by a devnet key. Writes the page's config (and the
//! owner's devnet key, for the page's dev wallet) as JSON to the path given, then runs until it is killed.
//!
//! `cargo run -p warrant-chain --example dapp_devnet -- OUT.json`

use std::time::Duration;

use alloy::{
    primitives::{B256, U256, hex},
    signers::local::PrivateKeySigner,
};
use warrant_chain::devnet::{Devnet, DevnetConfig, FIRST_FREE_ACCOUNT};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: dapp_devnet OUT.json");
        std::process::exit(2);
    });
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("dapp_devnet: {what}: {e}");
        std::process::exit(1);
    };
    let net =
        Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| fail("starting anvil + Alto", &e));
    let contracts = net.deploy_warrant().await.unwrap_or_else(|e| fail("deploying Warrant", &e));
    // A devnet key: its secret is public (derived from a fixed string), so it can sit behind a dev wallet.
    let owner: PrivateKeySigner = net.signer(FIRST_FREE_ACCOUNT).clone();
    let ether = U256::from(10).pow(U256::from(18));
    let account = net
        .create_warrant_account(&contracts, &owner, B256::ZERO, U256::from(100) * ether)
        .await
        .unwrap_or_else(|e| fail("creating the account", &e));
    let recipient = net.signer(FIRST_FREE_ACCOUNT + 1).address();
    let config = serde_json::json!({
        "config": {
            "rpcUrl": net.rpc_url().as_str(),
            "bundlerUrl": net.bundler_url().as_str(),
            "chainId": net.chain_id(),
            "validator": contracts.validator.to_checksum(None),
            "account": account.to_checksum(None),
            "accountKind": "warrant",
            "owner": owner.address().to_checksum(None),
            "recipient": recipient.to_checksum(None),
        },
        "ownerKey": hex::encode_prefixed(owner.to_bytes()),
    });
    std::fs::write(&out, config.to_string()).unwrap_or_else(|e| fail(&format!("writing {out}"), &e));
    eprintln!(
        "dapp_devnet: anvil {}, Alto {}, account {account}; logs in {}",
        net.rpc_url(),
        net.bundler_url(),
        net.log_dir().display()
    );
    // Until killed: anvil and Alto die with this process (PR_SET_PDEATHSIG).
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
