//! The dApp page (`web/`) in a real headless Chromium, Debian's `/usr/bin/chromium` driven by playwright-core,
//! against anvil and Alto in safe mode: a non-extractable WebCrypto session key created and kept in IndexedDB,
//! a grant explained in words and signed by the owner's EIP-1193 wallet (`eth_signTypedData_v4`), session
//! operations signed in the page without a prompt and mined through Alto, an out-of-scope payment refused in the
//! page and by the chain with the rule named, and a reload that still finds the key. See `docs/browser.md`.
//!
//! Needs `scripts/build-web` first (the wasm package in `web/pkg/`) and `web/node_modules` (`scripts/install-
//! toolchain`). Run with `cargo test -p warrant-chain --test browser -- --nocapture` (a step of `scripts/test`).
//! A screenshot of the page is kept in `target/browser/dapp.png`.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use serde_json::{Value, json};
use warrant_chain::devnet::{Devnet, DevnetConfig, check_tools};
use warrant_core::{
    grant::IWarrantValidator,
    p256::{P256Key, P256Kind},
    token::SignedGrant,
};

alloy::sol! {
    interface IErc1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4);
    }
}

const ETH: u128 = 1_000_000_000_000_000_000;
/// How the page signs session operations: with its WebCrypto P-256 key.
const EXPECTED_SIGNING: &str = "webcrypto-p256";
/// The whole browser run (Chromium start, five operations through Alto, a reload) must end within this.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into())
}

/// Everything the run needs, named when missing (never skipped).
fn check_browser_tools(root: &Path) {
    let need = [
        (root.join("web/pkg/warrant_wasm_bg.wasm"), "run scripts/build-web"),
        (root.join("web/node_modules/playwright-core/package.json"), "run scripts/install-toolchain"),
        (chromium(), "run scripts/install-toolchain (Debian's chromium)"),
    ];
    for (path, hint) in need {
        assert!(path.exists(), "{} is missing: {hint}", path.display());
    }
}

async fn view<C: SolCall>(net: &Devnet, to: Address, call: C) -> C::Return {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
    let out = net.provider().call(tx).await.unwrap_or_else(|e| panic!("eth_call to {to}: {e}"));
    C::abi_decode_returns(&out).expect("decodes")
}

/// Runs `node web/test/browser.mjs` and returns its result line, parsed; the node process is killed after
/// [`BROWSER_TIMEOUT`].
async fn run_browser(root: &Path, env: &[(&str, String)]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(root.join("web/test/browser.mjs")).current_dir(root.join("web"));
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("node starts (scripts/install-toolchain installs it)");
    let start = Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("the browser run took more than {} s", BROWSER_TIMEOUT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WARRANT_BROWSER_RESULT "))
        .unwrap_or_else(|| panic!("no result from the browser run ({}); stdout:\n{stdout}", out.status));
    serde_json::from_str(line).expect("the result is JSON")
}

#[tokio::test]
async fn dapp_in_chromium_through_alto() {
    let root = repo_root();
    if let Err(e) = check_tools() {
        panic!("the browser test needs anvil, node and Alto: {e}");
    }
    check_browser_tools(&root);
    let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
    let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
    let owner = PrivateKeySigner::random();
    let account = net
        .create_warrant_account(&contracts, &owner, B256::ZERO, U256::from(10 * ETH))
        .await
        .unwrap_or_else(|e| panic!("creating the account: {e}"));
    let recipient = PrivateKeySigner::random().address();
    let stranger = PrivateKeySigner::random().address();
    let config = json!({
        "rpcUrl": net.rpc_url().as_str(),
        "bundlerUrl": net.bundler_url().as_str(),
        "chainId": net.chain_id(),
        "validator": contracts.validator.to_checksum(None),
        "account": account.to_checksum(None),
        "accountKind": "warrant",
        "owner": owner.address().to_checksum(None),
        "recipient": recipient.to_checksum(None),
    });
    let artifacts = root.join("target/browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("dapp.png");
    let _ = std::fs::remove_file(&screenshot);

    let r = run_browser(
        &root,
        &[
            ("WARRANT_CONFIG", config.to_string()),
            ("WARRANT_OWNER_KEY", alloy::primitives::hex::encode_prefixed(owner.to_bytes())),
            ("WARRANT_STRANGER", stranger.to_checksum(None)),
            ("WARRANT_SCREENSHOT", screenshot.display().to_string()),
            ("CHROMIUM", chromium().display().to_string()),
        ],
    )
    .await;
    println!("browser run: {}", serde_json::to_string_pretty(&r["steps"]).unwrap());
    assert_eq!(
        r["ok"], true,
        "the browser run failed: {}\nconsole: {}\npage errors: {}",
        r["error"], r["console"], r["pageErrors"]
    );
    assert_eq!(r["pageErrors"], json!([]), "no uncaught errors in the page");

    assert_eq!(r["signingMode"], EXPECTED_SIGNING);

    // The key: created in the page, and WebCrypto refuses to export it in any format.
    let export = &r["exportAttempt"];
    assert_eq!(export["extractable"], false);
    assert_eq!(export["type"], "private");
    for format in ["pkcs8", "jwk"] {
        let refusal = export[format].as_str().unwrap();
        assert!(refusal.starts_with("InvalidAccessError"), "exportKey({format}) was not refused: {refusal}");
    }
    assert_eq!(r["extractableShown"], "false", "the page says the key is non-extractable");
    let signer: Address = r["signer"].as_str().unwrap().parse().unwrap();
    // The session signer is the WebCrypto P-256 key's identifier, keccak256(kind ‖ x ‖ y).
    let public = alloy::primitives::hex::decode(export["publicKey"].as_str().unwrap()).unwrap();
    let key = P256Key::from_uncompressed(P256Kind::WebCrypto, &public).expect("a P-256 point");
    assert_eq!(signer, key.signer(), "the page's signer is the key's identifier");

    // The grant: explained in words, signed by the wallet as ERC-7739 typed data, and bound to this key.
    let explain = r["explain"].as_str().unwrap();
    assert!(explain.contains(&recipient.to_checksum(None)), "{explain}");
    assert!(explain.contains(&signer.to_checksum(None)), "{explain}");
    assert_eq!(r["typedData"]["primaryType"], "TypedDataSign");
    assert_eq!(
        r["walletCalls"],
        json!(["eth_requestAccounts", "eth_signTypedData_v4"]),
        "one prompt: the grant"
    );
    let grant = SignedGrant::from_token(r["token"].as_str().unwrap()).expect("the page's token reads");
    assert_eq!((grant.grant.account, grant.grant.session.signer), (account, signer));
    assert_eq!((grant.module, grant.chain_id), (contracts.validator, net.chain_id()));
    assert_eq!(grant.session_key, Some(key), "the token carries the session's P-256 key (version 4)");
    let id = grant.session_id();
    // The owner's signature is ERC-7739 typed data signed by a standard wallet: the account accepts it as is.
    let magic = view(
        &net,
        account,
        IErc1271::isValidSignatureCall { hash: grant.digest(), signature: grant.owner_signature.clone() },
    )
    .await;
    assert_eq!(magic.0, [0x16, 0x26, 0xba, 0x7e], "isValidSignature accepts the wallet's grant signature");

    // Two operations mined (ENABLE, then USE), signed by WebCrypto, no wallet prompt for either.
    let ops = r["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    for (op, mode) in ops.iter().zip(["ENABLE", "USE"]) {
        assert_eq!(op["state"], "mined", "{}", op["text"]);
        assert!(op["text"].as_str().unwrap().contains(mode), "{}", op["text"]);
        assert_eq!(op["walletPrompts"], 0);
    }
    assert_eq!((ops[0]["usesLeft"].clone(), ops[1]["usesLeft"].clone()), (json!("4"), json!("3")));

    // Out of scope: refused in the page by the pre-flight, and by the validator through Alto, the rule named.
    for refusal in [&r["refusedPreflight"], &r["refusedByBundler"]] {
        assert_eq!(refusal["state"], "refused", "{}", refusal["text"]);
        assert_eq!(refusal["rule"], "CallNotPermitted", "{}", refusal["text"]);
    }
    assert!(r["refusedPreflight"]["text"].as_str().unwrap().contains("before signing"));
    assert!(r["refusedByBundler"]["text"].as_str().unwrap().contains("bundler"));

    // A reload finds the key and the grant, and the key still signs.
    let after = &r["afterReload"];
    assert_eq!((after["found"].clone(), after["granted"].clone()), (json!(true), json!(true)));
    assert_eq!(after["signer"], r["signer"]);
    assert_eq!(after["usesLeft"], "3");
    assert_eq!(after["restoredLog"], 4, "the operations log survives the reload (2 mined, 2 refused)");
    assert_eq!(after["op"]["state"], "mined", "{}", after["op"]["text"]);

    // The chain agrees: three uses, 0.03 ETH paid, nothing to the stranger.
    let state = view(&net, contracts.validator, IWarrantValidator::sessionStateCall { account, id }).await;
    assert_eq!((state.status, state.uses), (1, 3));
    assert_eq!(net.provider().get_balance(recipient).await.unwrap(), U256::from(3 * ETH / 100));
    assert_eq!(net.provider().get_balance(stranger).await.unwrap(), U256::ZERO);

    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    println!("screenshot: {} ({} bytes)", screenshot.display(), png.len());
}
