//! ERC-7715 on the service (`POST /rpc`, the consent API) against anvil and Alto: a dApp's `erc20-token-periodic`
//! request, in the shape MetaMask's kit sends, held open while the owner decides; a retry after "still pending"
//! waiting on the same pending grant; refusals by name (a stream, another chain, a batch, an unknown method); the
//! consent API's same-origin and JSON-only rules; a signed grant whose scope differs from the request refused, and
//! one signed by someone else than the owner; the owner's approval completing the dApp's call with the grant
//! token as `context`; the dApp's session key spending through Alto with it; `getGranted` with what is left; a
//! revocation the dApp asks for, shown revoked only after the owner's transaction; a rejection answered 4001.

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use serde_json::{Value, json};
use warrant_core::{
    erc7715::grant_from_context, grant::Grant, grant_json::GrantJson, policy::Call, session_op::sign_grant,
};
use warrant_service::Erc7715Config;

use crate::world::World;

alloy::sol! {
    function transfer(address to, uint256 amount) returns (bool);
}

const DAPP: &str = "http://dapp.localhost:5173";

struct Rpc {
    http: reqwest::Client,
    base: String,
}

impl Rpc {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.raw(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params })).await
    }

    async fn raw(&self, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}/rpc", self.base))
            .header("origin", DAPP)
            .json(body)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .expect("the service answers");
        assert_eq!(r.status(), 200, "JSON-RPC answers HTTP 200");
        r.json().await.expect("JSON")
    }

    async fn consent(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let r = match body {
            None => self.http.get(url).send().await.unwrap(),
            Some(b) => self.http.post(url).json(&b).send().await.unwrap(),
        };
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn problem(answer: &Value) -> (&str, i64) {
    (
        answer["error"]["data"]["problem"].as_str().unwrap_or("-"),
        answer["error"]["code"].as_i64().unwrap_or(0),
    )
}

/// The request as `erc7715ProviderActions().requestExecutionPermissions` puts it on the wire
/// (`permissionRequestToRpc` of @metamask/smart-accounts-kit 2.0.0): `chainId` by viem's `toHex`, amounts hex,
/// `periodDuration` and `startTime` numbers, the expiry as a rule.
fn kit_request(w: &World, to: Address, period_amount: u64, expiry: u64) -> Value {
    json!({
        "from": w.account.to_checksum(None),
        "chainId": format!("{:#x}", w.net.chain_id()),
        "permission": {
            "type": "erc20-token-periodic",
            "data": {
                "tokenAddress": w.token.to_checksum(None),
                "periodAmount": format!("{period_amount:#x}"),
                "periodDuration": 3600,
                // Period 0 began 6 s ago: Alto takes an operation from 5 s after its window opens (its clock).
                "startTime": expiry - 86_400 - 6,
                "justification": "Pay 10 tokens an hour to the subscription",
            },
            "isAdjustmentAllowed": false,
        },
        "to": to.to_checksum(None),
        "rules": [{ "type": "expiry", "data": { "timestamp": expiry } }],
    })
}

fn grant_of(draft: &Value) -> Grant {
    serde_json::from_value::<GrantJson>(draft["grant"].clone()).expect("the draft's grant reads").into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erc7715_requests_approved_on_the_consent_api_and_spent_through_alto() {
    let w = World::start().await;
    let _ticks = w.tick_blocks();
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::config(&w, dir.path(), None);
    config.erc7715 = Some(Erc7715Config {
        module: w.contracts.validator,
        dapp_origins: vec![DAPP.into()],
        web_dir: dir.path().join("no-web"),
        wait: Duration::from_secs(4),
    });
    let running = warrant_service::start(config, None).await.unwrap();
    let rpc = Rpc { http: reqwest::Client::new(), base: format!("http://{}", running.addr) };
    let now = u64::try_from(warrant_service::ids::now()).unwrap();

    // What is supported is exactly core's table, for this chain.
    let supported = rpc.call("wallet_getSupportedExecutionPermissions", json!([])).await;
    let chain = format!("{:#x}", w.net.chain_id());
    assert_eq!(supported["result"]["erc20-token-periodic"]["chainIds"], json!([chain]));
    assert!(supported["result"].get("erc20-token-stream").is_none(), "streams are not offered");

    // Refusals, each by name and field, before anything is stored.
    let session_key = PrivateKeySigner::random();
    let mut stream = kit_request(&w, session_key.address(), 10, now + 86_400);
    stream["permission"]["type"] = json!("erc20-token-stream");
    let r = rpc.call("wallet_requestExecutionPermissions", json!([stream])).await;
    assert_eq!(problem(&r), ("RefusedType", -32602), "{r}");
    assert_eq!(r["error"]["data"]["field"], "params[0].permission.type", "{r}");
    let mut other_chain = kit_request(&w, session_key.address(), 10, now + 86_400);
    other_chain["chainId"] = json!("0x1");
    let r = rpc.call("wallet_requestExecutionPermissions", json!([other_chain])).await;
    assert_eq!(problem(&r), ("WrongChain", -32602), "{r}");
    let mut zero = kit_request(&w, session_key.address(), 10, now + 86_400);
    zero["permission"]["data"]["periodAmount"] = json!("0x0");
    let r = rpc.call("wallet_requestExecutionPermissions", json!([zero])).await;
    assert_eq!(problem(&r), ("InvalidField", -32602), "{r}");
    assert_eq!(r["error"]["data"]["field"], "params[0].permission.data.periodAmount", "{r}");
    let r = rpc
        .raw(&json!([{ "jsonrpc": "2.0", "id": 1, "method": "wallet_getSupportedExecutionPermissions" }]))
        .await;
    assert_eq!(problem(&r), ("InvalidRequest", -32600), "{r}");
    let r = rpc.call("eth_sendTransaction", json!([])).await;
    assert_eq!(problem(&r), ("MethodNotFound", -32601), "{r}");
    // A request nobody decided for over an hour expires: it no longer waits on the page or fills the pending slots.
    let stale = warrant_service::storage::PermissionRow {
        id: "perm_stale".into(),
        origin: DAPP.into(),
        method: "wallet_requestExecutionPermissions".into(),
        request: kit_request(&w, session_key.address(), 10, now + 86_400).to_string(),
        fingerprint: "stale".into(),
        state: "pending".into(),
        reason: None,
        grant_token: None,
        account: None,
        session_id: None,
        response: None,
        created_at: i64::try_from(now).unwrap() - 3601,
        decided_at: None,
        revoke_requested_at: None,
    };
    running.storage.insert_permission(&stale).await.unwrap();
    let (_, list) = rpc.consent("/consent/requests", None).await;
    assert_eq!(list["pending"], json!([]), "no refused request was stored, the stale one expired");
    assert_eq!(running.storage.permission("perm_stale").await.unwrap().unwrap().state, "expired");

    // CORS: the dApp's origin may call /rpc from a browser, another origin gets no CORS grant.
    for (origin, allowed) in [(DAPP, true), ("http://evil.localhost", false)] {
        let pre = rpc
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/rpc", rpc.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        let granted =
            pre.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(granted.as_deref() == Some(origin), allowed, "CORS for {origin}: {granted:?}");
    }

    // The dApp asks; the call is held open, answers "still pending" after the bounded wait, and the same
    // request sent again waits on the same pending grant (as a retrying dApp does).
    let request = kit_request(&w, session_key.address(), 10, now + 86_400);
    let first = rpc.call("wallet_requestExecutionPermissions", json!([request.clone()])).await;
    assert_eq!(problem(&first), ("Pending", -32002), "{first}");
    let id = first["error"]["data"]["ids"][0].as_str().unwrap().to_string();
    let held = {
        let (http, base, request) = (rpc.http.clone(), rpc.base.clone(), request.clone());
        tokio::spawn(async move {
            let rpc = Rpc { http, base };
            loop {
                let r = rpc.call("wallet_requestExecutionPermissions", json!([request.clone()])).await;
                if problem(&r).0 != "Pending" {
                    return r;
                }
                assert_eq!(
                    r["error"]["data"]["ids"][0],
                    json!(id),
                    "a retry waits on the same pending grant"
                );
            }
        })
    };

    // The consent API: the pending request in the current shape; another site's page and non-JSON refused.
    let (status, list) = rpc.consent("/consent/requests", None).await;
    assert_eq!(status, 200);
    let pending = list["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{list}");
    assert_eq!(
        (pending[0]["id"].as_str(), pending[0]["origin"].as_str()),
        (Some(first["error"]["data"]["ids"][0].as_str().unwrap()), Some(DAPP))
    );
    let id = pending[0]["id"].as_str().unwrap().to_string();
    let cross = rpc
        .http
        .post(format!("{}/consent/requests/{id}/reject", rpc.base))
        .header("origin", "http://evil.localhost")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403, "another site's page can't reject");
    let form = rpc
        .http
        .post(format!("{}/consent/requests/{id}/reject", rpc.base))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "a cross-site form's text/plain body is refused");

    // The owner's draft: the account pays gas from a 1 ETH budget.
    let (status, draft) = rpc
        .consent(
            &format!("/consent/requests/{id}/draft"),
            Some(json!({ "maxValueTotal": "1000000000000000000" })),
        )
        .await;
    assert_eq!(status, 200, "{draft}");
    let grant = grant_of(&draft);
    assert_eq!((grant.account, grant.session.signer), (w.account, session_key.address()));
    let module = w.contracts.validator;
    let chain_id = w.net.chain_id();

    // A signed grant that differs from the request is refused, even signed by the owner.
    let mut wider = grant.clone();
    wider.session.scope.limits[0].perPeriod = 11;
    let token = sign_grant(wider, module, chain_id, &w.owner).unwrap().to_token().unwrap();
    let (status, r) =
        rpc.consent(&format!("/consent/requests/{id}/approve"), Some(json!({ "token": token }))).await;
    assert_eq!((status, r["error"].as_str()), (400, Some("GrantMismatch")), "{r}");
    let mut other_key = grant.clone();
    other_key.session.signer = PrivateKeySigner::random().address();
    let token = sign_grant(other_key, module, chain_id, &w.owner).unwrap().to_token().unwrap();
    let (status, r) =
        rpc.consent(&format!("/consent/requests/{id}/approve"), Some(json!({ "token": token }))).await;
    assert_eq!((status, r["error"].as_str()), (400, Some("GrantMismatch")), "{r}");
    // The exact grant signed by someone else than the owner: the account refuses the signature.
    let stranger = PrivateKeySigner::random();
    let token = sign_grant(grant.clone(), module, chain_id, &stranger).unwrap().to_token().unwrap();
    let (status, r) =
        rpc.consent(&format!("/consent/requests/{id}/approve"), Some(json!({ "token": token }))).await;
    assert_eq!((status, r["error"].as_str()), (400, Some("OwnerSignatureInvalid")), "{r}");

    // The owner signs the draft: the dApp's held call completes with the response.
    let signed = sign_grant(grant.clone(), module, chain_id, &w.owner).unwrap();
    let (status, r) = rpc
        .consent(
            &format!("/consent/requests/{id}/approve"),
            Some(json!({ "token": signed.to_token().unwrap() })),
        )
        .await;
    assert_eq!((status, r["state"].as_str()), (200, Some("granted")), "{r}");
    let answer = tokio::time::timeout(Duration::from_secs(30), held).await.expect("answered").unwrap();
    let response = &answer["result"][0];
    assert_eq!(response["delegationManager"], module.to_checksum(None), "{answer}");
    assert_eq!(response["to"], session_key.address().to_checksum(None));
    assert_eq!(response["permission"]["data"]["periodAmount"], "0xa");
    assert_eq!(response["dependencies"], json!([]));
    let context = response["context"].as_str().unwrap();
    let from_context = grant_from_context(context).expect("the context is the grant token");
    assert_eq!(from_context, signed);
    let (_, r) = rpc.consent(&format!("/consent/requests/{id}/approve"), Some(json!({ "token": "x" }))).await;
    assert_eq!(r["error"], "NotPending", "decided once");
    // The dApp sends the same request again (it missed the answer): the same grant, at once, no new prompt.
    let again = rpc.call("wallet_requestExecutionPermissions", json!([request.clone()])).await;
    assert_eq!(again["result"][0]["context"], json!(context), "{again}");
    let (_, list) = rpc.consent("/consent/requests", None).await;
    assert_eq!(list["pending"], json!([]), "nothing new for the owner");

    // The dApp's session key spends with the context through Alto: within the period, then refused above it.
    let client = warrant_client::Client::connect(
        w.net.rpc_url().clone(),
        Some(w.net.bundler_url().clone()),
        Default::default(),
    )
    .await
    .unwrap();
    let payee = PrivateKeySigner::random().address();
    let pay = |amount: u64| Call {
        target: w.token,
        value: U256::ZERO,
        data: transferCall { to: payee, amount: U256::from(amount) }.abi_encode().into(),
    };
    let options = warrant_client::SendOptions::default();
    let receipt =
        client.send(&from_context, &session_key, vec![pay(7)], &options).await.expect("7 of 10 goes");
    assert!(receipt.success, "the transfer ran");
    let refused = client.prepare(&from_context, &session_key, vec![pay(4)], &options).await.unwrap_err();
    assert_eq!(refused.denial().map(|d| d.name()), Some("PeriodSpendLimitExceeded"), "{refused}");

    // getGranted: the live permission with what it has left.
    let granted = rpc.call("wallet_getGrantedExecutionPermissions", json!([])).await;
    let list = granted["result"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{granted}");
    assert_eq!(list[0]["context"], context);
    assert_eq!(list[0]["warrant"]["limits"][0]["remainingInPeriod"], "3", "{granted}");
    assert_eq!(list[0]["warrant"]["revokeRequested"], false);

    // The dApp asks for a revocation: recorded, but still listed until the owner's transaction lands.
    let r = rpc.call("wallet_revokeExecutionPermission", json!([{ "permissionContext": context }])).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let granted = rpc.call("wallet_getGrantedExecutionPermissions", json!([])).await;
    assert_eq!(granted["result"][0]["warrant"]["revokeRequested"], true, "{granted}");
    let (_, list) = rpc.consent("/consent/requests", None).await;
    let revocation = &list["revocations"][0];
    assert_eq!(revocation["id"], json!(id), "{list}");
    let tx = &revocation["transaction"];
    let owner_wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(w.owner.clone()))
        .connect_http(w.net.rpc_url().clone());
    let data: alloy::primitives::Bytes = tx["data"].as_str().unwrap().parse().unwrap();
    let send = TransactionRequest::default()
        .with_from(w.account)
        .with_to(tx["to"].as_str().unwrap().parse().unwrap())
        .with_input(data);
    let mined = owner_wallet.send_transaction(send).await.unwrap().get_receipt().await.unwrap();
    assert!(mined.status(), "the owner's revoking transaction");
    let granted = rpc.call("wallet_getGrantedExecutionPermissions", json!([])).await;
    assert_eq!(granted["result"], json!([]), "revoked on chain: no longer listed");
    let refused = client.prepare(&from_context, &session_key, vec![pay(1)], &options).await.unwrap_err();
    assert_eq!(refused.denial().map(|d| d.name()), Some("SessionRevoked"), "{refused}");

    // A request the owner rejects ends with EIP-1193's 4001; this one in the legacy wallet_grantPermissions
    // shape, which the consent page shows in the current one.
    let legacy_key = PrivateKeySigner::random().address();
    let second = json!({
        "chainId": format!("{:#x}", w.net.chain_id()),
        "address": w.account.to_checksum(None),
        "expiry": now + 86_400,
        "signer": { "type": "account", "data": { "address": legacy_key.to_checksum(None) } },
        "permissions": [{ "type": "native-token-transfer", "data": { "allowance": "0x2386f26fc10000" } }],
    });
    let held = {
        let (http, base) = (rpc.http.clone(), rpc.base.clone());
        tokio::spawn(async move {
            let rpc = Rpc { http, base };
            loop {
                let r = rpc.call("wallet_grantPermissions", json!([second.clone()])).await;
                if problem(&r).0 != "Pending" {
                    return r;
                }
            }
        })
    };
    let (id, shown) = loop {
        let (_, list) = rpc.consent("/consent/requests", None).await;
        if let Some(id) = list["pending"][0]["id"].as_str() {
            break (id.to_string(), list["pending"][0].clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["method"], "wallet_grantPermissions");
    assert_eq!(shown["request"]["to"], legacy_key.to_checksum(None), "{shown}");
    assert_eq!(shown["request"]["permission"]["type"], "native-token-allowance", "{shown}");
    assert_eq!(shown["request"]["rules"][0]["type"], "expiry", "{shown}");
    let (status, _) =
        rpc.consent(&format!("/consent/requests/{id}/reject"), Some(json!({ "reason": "too much" }))).await;
    assert_eq!(status, 200);
    let answer = tokio::time::timeout(Duration::from_secs(30), held).await.unwrap().unwrap();
    assert_eq!(problem(&answer), ("Rejected", 4001), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("too much"));

    // The consent page is served, framed by nobody; without the browser package it names what is missing.
    let page = rpc.http.get(format!("{}/consent", rpc.base)).send().await.unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let (status, r) = rpc.consent("/consent/pkg/warrant_wasm_bg.wasm", None).await;
    assert_eq!((status, r["error"].as_str()), (404, Some("BrowserPackageMissing")));

    // Every decision is in the audit log, by who made it.
    let audit = running.storage.audit_log(0, 1000).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for action in ["permission.request", "permission.grant", "permission.revoke_request", "permission.reject"]
    {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
    running.stop().await.unwrap();
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The dApp in headless Chromium (Debian's, driven by playwright-core: `web/test/erc7715.mjs`) asks with
/// MetaMask's Smart Accounts Kit, the owner approves on the service's consent page with an EIP-1193 wallet, and
/// the dApp's session key spends through Alto: 7 of 10 tokens in period 0, 4 more refused (pre-flight and Alto,
/// `PeriodSpendLimitExceeded`), 4 in the next period (a 60 s one: Alto judges an operation's window by its own
/// clock, so the test waits for the refill instead of moving anvil's clock). Needs `scripts/build-web` (web/pkg) and
/// web/node_modules (`scripts/install-toolchain`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erc7715_in_chromium_through_alto() {
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    for (path, hint) in [
        (root.join("web/pkg/warrant_wasm_bg.wasm"), "run scripts/build-web"),
        (
            root.join("web/node_modules/@metamask/smart-accounts-kit/package.json"),
            "run scripts/install-toolchain",
        ),
        (root.join("web/node_modules/esbuild/package.json"), "run scripts/install-toolchain"),
        (std::path::PathBuf::from(&chromium), "run scripts/install-toolchain (Debian's chromium)"),
    ] {
        assert!(path.exists(), "{} is missing: {hint}", path.display());
    }
    let w = World::start().await;
    let _ticks = w.tick_blocks();
    let dir = tempfile::tempdir().unwrap();
    let dapp_port = crate::world::free_port();
    let dapp_origin = format!("http://127.0.0.1:{dapp_port}");
    let mut config = crate::config(&w, dir.path(), None);
    config.erc7715 = Some(Erc7715Config {
        module: w.contracts.validator,
        dapp_origins: vec![dapp_origin.clone()],
        web_dir: root.join("web"),
        wait: Duration::from_secs(120),
    });
    let running = warrant_service::start(config, None).await.unwrap();
    let payee = PrivateKeySigner::random().address();
    let now = u64::try_from(warrant_service::ids::now()).unwrap();
    let dapp_config = json!({
        "serviceUrl": format!("http://127.0.0.1:{}", running.addr.port()),
        "rpcUrl": w.net.rpc_url().as_str(),
        "bundlerUrl": w.net.bundler_url().as_str(),
        "chainId": w.net.chain_id(),
        "account": w.account.to_checksum(None),
        "accountKind": "warrant",
        "token": w.token.to_checksum(None),
        "payee": payee.to_checksum(None),
        "periodAmount": "10",
        // A 60 s period that began 6 s ago: Alto takes an operation from 5 s after its period's window opens
        // until 30 s before it closes, by its own clock, so the refill is waited for, not made by moving anvil.
        "periodDuration": 60,
        "startTime": now - 6,
        "expiry": now + 86_400,
        "gasBudget": "1000000000000000000",
    });
    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).unwrap();

    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(root.join("web/test/erc7715.mjs")).current_dir(root.join("web"));
    cmd.env("WARRANT_CONFIG", dapp_config.to_string())
        .env("WARRANT_OWNER_KEY", alloy::primitives::hex::encode_prefixed(w.owner.to_bytes()))
        .env("WARRANT_DAPP_PORT", dapp_port.to_string())
        .env("WARRANT_SCREENSHOTS", shots.display().to_string())
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("the browser run ends within 4 minutes")
        .expect("node runs (scripts/install-toolchain installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WARRANT_BROWSER_RESULT "))
        .unwrap_or_else(|| panic!("no result from the browser run ({}); stdout:\n{stdout}", out.status));
    let r: Value = serde_json::from_str(line).expect("the result is JSON");
    println!("browser run: {}", serde_json::to_string_pretty(&r["steps"]).unwrap());
    assert_eq!(
        r["ok"], true,
        "the browser run failed: {}\nconsole: {}\npage errors: {}",
        r["error"], r["console"], r["pageErrors"]
    );
    assert_eq!(r["pageErrors"], json!([]), "no uncaught errors in the pages");
    assert_eq!(r["blocked"], json!([]), "nothing asked for an address off this machine: {}", r["blocked"]);
    assert_eq!(r["doNotTrack"], "1");

    // The request the consent page shows is the kit's, read as core reads it; the words name the amounts.
    let session: Address = r["sessionAccount"].as_str().unwrap().parse().unwrap();
    let shown = &r["consentRequest"];
    assert_eq!(shown["to"], session.to_checksum(None));
    assert_eq!(shown["permission"]["type"], "erc20-token-periodic");
    assert_eq!(shown["permission"]["data"]["periodAmount"], "0xa");
    assert!(r["supported"].as_str().unwrap().contains("erc20-token-periodic"), "{}", r["supported"]);
    let explain = r["explain"].as_str().unwrap();
    assert!(explain.contains(&w.token.to_checksum(None)), "{explain}");
    assert!(explain.contains(&session.to_checksum(None)), "{explain}");
    assert_eq!(r["typedData"]["primaryType"], "TypedDataSign");
    assert_eq!(
        r["walletCalls"],
        json!(["eth_requestAccounts", "eth_signTypedData_v4"]),
        "one prompt: the grant"
    );

    // Spent through Alto: within the period, refused above it by name (pre-flight, then the validator through
    // Alto), and again after the refill.
    let ops = r["ops"].as_array().unwrap();
    assert_eq!(
        (ops[0]["state"].as_str(), ops[3]["state"].as_str()),
        (Some("mined"), Some("mined")),
        "{ops:?}"
    );
    assert!(ops[0]["text"].as_str().unwrap().contains("ENABLE, period 0"), "{}", ops[0]["text"]);
    assert!(ops[3]["text"].as_str().unwrap().contains("USE, period 1"), "{}", ops[3]["text"]);
    for refused in [&ops[1], &ops[2]] {
        assert_eq!(
            (refused["state"].as_str(), refused["rule"].as_str()),
            (Some("refused"), Some("PeriodSpendLimitExceeded")),
            "{refused}"
        );
    }
    assert!(ops[1]["text"].as_str().unwrap().contains("before signing"));
    assert!(ops[2]["text"].as_str().unwrap().contains("bundler"));
    assert_eq!(w.transfers_to(payee).await, vec![7, 4], "on chain: 7, then 4 after the refill");

    // The kit's getGrantedExecutionPermissions: the permission with what it has left in period 1.
    let granted = r["granted"].as_array().unwrap();
    assert_eq!(granted.len(), 1, "{}", r["granted"]);
    assert_eq!(granted[0]["warrant"]["limits"][0]["remainingInPeriod"], "6", "{}", r["granted"]);
    running.stop().await.unwrap();
}
