//! The world the end-to-end tests run in: anvil + Alto (safe mode) with Warrant and a MockToken deployed, an
//! EIP-7702 account (an EOA delegated to WarrantAccount with the validator installed) holding tokens, and clients
//! of the service's HTTP API.

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolEvent},
};
use serde_json::{Value, json};
use warrant_chain::{
    artifacts,
    devnet::{Devnet, DevnetConfig, WarrantContracts, check_tools},
};
use warrant_core::{
    eip7702::{self, ChainScope},
    grant::{CallPolicy, Grant, IWarrantValidator, NO_CAP, Scope, Session, SpendLimit},
    policy::Call,
    session_op::{execute_batch, sign_grant},
};

sol! {
    function installModule(uint256 moduleTypeId, address module, bytes initData);
    function mint(address to, uint256 amount);
    function transfer(address to, uint256 amount) returns (bool);
    event Transfer(address indexed from, address indexed to, uint256 value);
}

pub(crate) const ETH: u128 = 1_000_000_000_000_000_000;

/// The chain side of a test.
pub(crate) struct World {
    pub(crate) net: Devnet,
    pub(crate) contracts: WarrantContracts,
    pub(crate) token: Address,
    pub(crate) owner: PrivateKeySigner,
    /// The account (the owner's EOA, delegated).
    pub(crate) account: Address,
}

impl World {
    pub(crate) async fn start() -> Self {
        if let Err(e) = check_tools() {
            panic!("the end-to-end tests need anvil, node and Alto: {e}");
        }
        let net = Devnet::start(DevnetConfig::default()).await.unwrap_or_else(|e| panic!("devnet: {e}"));
        let contracts = net.deploy_warrant().await.unwrap_or_else(|e| panic!("deploying Warrant: {e}"));
        let code = artifacts::warrant_creation_code("Mocks.sol", "MockToken").expect("MockToken artifact");
        let token = net.deploy(code).await.expect("deploys MockToken");
        let owner = new_account(&net, &contracts, token).await;
        let account = owner.address();
        Self { net, contracts, token, owner, account }
    }

    /// Mines an empty block every second, as a live chain does: anvil mines only on demand, and a period-scoped
    /// operation is judged by the latest block's timestamp in simulation (AA22 until a block of its period).
    pub(crate) fn tick_blocks(&self) -> tokio::task::JoinHandle<()> {
        let provider = self.net.provider().clone();
        tokio::spawn(async move {
            loop {
                let _ = provider.raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    /// Another account of another owner (the service sends for many accounts).
    pub(crate) async fn other_account(&self) -> PrivateKeySigner {
        new_account(&self.net, &self.contracts, self.token).await
    }

    pub(crate) fn rpc(&self) -> String {
        self.net.rpc_url().to_string()
    }

    pub(crate) fn bundler(&self) -> String {
        self.net.bundler_url().to_string()
    }

    /// A scope: `transfer` on the token, gas paid by the account from a large native budget; `limits` as given.
    pub(crate) fn token_scope(&self, limits: Vec<SpendLimit>, period: u32, period_start: u64) -> Scope {
        Scope {
            maxValueTotal: U256::from(100 * ETH),
            maxGasLimit: 3_000_000,
            calls: vec![CallPolicy {
                target: self.token,
                selector: transferCall::SELECTOR.into(),
                flags: 0,
                maxValue: U256::ZERO,
                conditions: vec![],
            }],
            period,
            periodStart: alloy::primitives::aliases::U48::from(period_start),
            limits,
            ..Default::default()
        }
    }

    /// A per-period cap on the token.
    pub(crate) fn token_limit(&self, per_period: u128) -> SpendLimit {
        SpendLimit { token: self.token, perPeriod: per_period, lifetime: NO_CAP }
    }

    /// The owner's grant token for `session_key` under `scope`.
    pub(crate) async fn grant_token(&self, session_key: Address, scope: Scope) -> String {
        self.grant_token_of(&self.owner, session_key, scope).await
    }

    /// `owner`'s grant token for `session_key` under `scope`, on `owner`'s account.
    pub(crate) async fn grant_token_of(
        &self,
        owner: &PrivateKeySigner,
        session_key: Address,
        scope: Scope,
    ) -> String {
        let account = owner.address();
        let epoch = self
            .net
            .provider()
            .call(
                TransactionRequest::default()
                    .with_to(self.contracts.validator)
                    .with_input(IWarrantValidator::epochOfCall { account }.abi_encode()),
            )
            .await
            .unwrap();
        let epoch = IWarrantValidator::epochOfCall::abi_decode_returns(&epoch).unwrap();
        let salt = B256::random();
        let grant =
            Grant { account, epoch: epoch.to(), session: Session { signer: session_key, salt, scope } };
        let signed = sign_grant(grant, self.contracts.validator, self.net.chain_id(), owner).unwrap();
        signed.to_token().unwrap()
    }

    /// A call to `transfer(to, amount)` on the token, as the API takes it.
    pub(crate) fn transfer(&self, to: Address, amount: u64) -> Value {
        let data = transferCall { to, amount: U256::from(amount) }.abi_encode();
        json!([{ "to": self.token.to_string(), "data": Bytes::from(data).to_string() }])
    }

    /// Every token transfer to `to` (from any account): the amounts, in block order.
    pub(crate) async fn transfers_to(&self, to: Address) -> Vec<u64> {
        let filter = Filter::new()
            .address(self.token)
            .event_signature(Transfer::SIGNATURE_HASH)
            .topic2(to.into_word())
            .from_block(0);
        let logs = self.net.provider().get_logs(&filter).await.unwrap();
        logs.iter().map(|l| Transfer::decode_log(&l.inner).unwrap().data.value.to::<u64>()).collect()
    }
}

/// A new EOA delegated to WarrantAccount with the validator installed (one type-4 transaction of the EOA to
/// itself), funded with ether for gas and with tokens.
async fn new_account(net: &Devnet, contracts: &WarrantContracts, token: Address) -> PrivateKeySigner {
    let owner = PrivateKeySigner::random();
    let account = owner.address();
    net.set_balance(account, U256::from(1000 * ETH)).await.unwrap();
    // Delegate to WarrantAccount and install the validator in one type-4 transaction of the EOA to itself.
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(owner.clone()))
        .connect_http(net.rpc_url().clone());
    let nonce = provider.get_transaction_count(account).await.unwrap();
    let auth = eip7702::authorization(
        net.chain_id(),
        contracts.implementation,
        eip7702::self_sponsored_tuple_nonce(nonce),
        ChainScope::ThisChainOnly,
    )
    .unwrap();
    let auth = eip7702::sign_authorization(&owner, auth).unwrap();
    let install = installModuleCall {
        moduleTypeId: U256::from(1),
        module: contracts.validator,
        initData: Bytes::new(),
    };
    let data = execute_batch(&[Call { target: account, value: U256::ZERO, data: install.abi_encode() }]);
    let tx = TransactionRequest::default()
        .with_from(account)
        .with_to(account)
        .with_input(data)
        .with_authorization_list(vec![auth]);
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "delegation + installModule");
    // Tokens for the account.
    let mint = mintCall { to: account, amount: U256::from(1_000_000_000u64) };
    net.send(TransactionRequest::default().with_to(token).with_input(mint.abi_encode())).await.unwrap();
    owner
}

/// A client of the service's API.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) token: String,
    http: reqwest::Client,
}

impl Api {
    pub(crate) fn new(base: impl Into<String>, token: impl Into<String>) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Self { base: base.into(), token: token.into(), http }
    }

    pub(crate) fn with_token(&self, token: &str) -> Self {
        Self { token: token.into(), ..self.clone() }
    }

    async fn answer(r: reqwest::Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub(crate) async fn try_post(&self, path: &str, body: &Value) -> Result<(u16, Value), reqwest::Error> {
        let r =
            self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().await?;
        Ok(Self::answer(r).await)
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.try_post(path, body).await.unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub(crate) async fn post_raw(&self, path: &str, body: &str, content_type: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        Self::answer(r).await
    }

    pub(crate) async fn try_get(&self, path: &str) -> Result<(u16, Value), reqwest::Error> {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        Ok(Self::answer(r).await)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        Self::answer(r).await
    }

    pub(crate) async fn delete(&self, path: &str) -> (u16, Value) {
        let r =
            self.http.delete(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        Self::answer(r).await
    }

    /// Creates a key named `name` and attaches a grant for it with `scope`; returns the key's address.
    pub(crate) async fn session(&self, world: &World, name: &str, scope: Scope) -> Address {
        self.session_of(world, &world.owner, name, scope).await
    }

    /// A session named `name` on `owner`'s account.
    pub(crate) async fn session_of(
        &self,
        world: &World,
        owner: &PrivateKeySigner,
        name: &str,
        scope: Scope,
    ) -> Address {
        let (status, key) = self.post("/v1/keys", &json!({ "name": name })).await;
        assert_eq!(status, 201, "create key {name}: {key}");
        let address: Address = key["address"].as_str().unwrap().parse().unwrap();
        let token = world.grant_token_of(owner, address, scope).await;
        let (status, body) = self.post(&format!("/v1/keys/{name}/grant"), &json!({ "token": token })).await;
        assert_eq!(status, 200, "attach grant {name}: {body}");
        assert_eq!(body["state"], "active");
        address
    }

    /// Waits until `done(job)` holds for the job's JSON (with runs), or panics after `timeout`.
    pub(crate) async fn wait_job(&self, id: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (status, job) = self.get(&format!("/v1/jobs/{id}")).await;
            assert_eq!(status, 200, "{job}");
            if done(&job) {
                return job;
            }
            assert!(start.elapsed() < timeout, "job {id} did not get there in {timeout:?}: {job:#}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The states of a job's runs.
pub(crate) fn run_states(job: &Value) -> Vec<String> {
    job["runs"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap().to_string()).collect()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// A child process in its own process group, killed with the test process and on drop.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(mut command: Command, log: &Path) -> Self {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        command.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("spawning {command:?}: {e}"));
        Self { child, log: log.to_path_buf() }
    }

    /// SIGKILL to the process and its group, no warning.
    pub(crate) fn kill9(&mut self) {
        // SAFETY: plain syscall; a negative pid names the process group created for this child.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (the service stops gracefully).
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().ok().and_then(|s| s.code())
    }

    pub(crate) fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `warrant-service` with `args`.
pub(crate) fn service_command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_warrant-service"));
    for var in
        ["WARRANT_MASTER_KEY", "WARRANT_DATABASE_URL", "WARRANT_DATA_DIR", "WARRANT_CONFIG", "ETH_RPC_URL"]
    {
        c.env_remove(var);
    }
    let log = std::env::var("WARRANT_TEST_SERVICE_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    c.env("RUST_LOG", log).args(args);
    c
}

/// Creates an API token with `warrant-service token create`.
pub(crate) fn create_token(db_args: &[&str], sessions: &str) -> String {
    let mut args = vec!["token", "create", "--sessions", sessions, "--label", "test"];
    args.extend_from_slice(db_args);
    let out = service_command(&args).output().unwrap();
    assert!(out.status.success(), "token create: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Waits for `/health` to answer.
pub(crate) async fn wait_healthy(base: &str, proc: &mut Proc, timeout: Duration) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("the service exited ({status}):\n{}", proc.tail(40));
        }
        assert!(
            start.elapsed() < timeout,
            "the service did not answer /health in {timeout:?}:\n{}",
            proc.tail(40)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
