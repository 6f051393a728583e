//! A local network of real processes for end-to-end tests: anvil and Pimlico's Alto bundler (safe mode, i.e.
//! ERC-7562 tracing, on), both from the pinned npm packages, on free loopback ports, with EntryPoint v0.8 at its
//! canonical address.
//!
//! Every process is started in its own process group and asked to die with the test process
//! (`PR_SET_PDEATHSIG`), and [`Devnet`]'s `Drop` kills the groups, so nothing outlives a test that passes,
//! fails or is interrupted. Logs go to a fresh directory that is removed after a clean run and kept (and its
//! tail printed) when the run panicked or failed to start. See `docs/e2e.md`.

use std::{
    fs::File,
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    transports::http::reqwest::Url,
};
use warrant_core::{
    IEntryPoint, UserOperation,
    account::AccountKind,
    constants::{CREATE2_DEPLOYER, ENTRY_POINT_V08, ENTRY_POINT_V08_SALT},
};

use crate::{ChainError, accounts, artifacts, bundler::BundlerClient, create2_address};

sol! {
    #[sol(rpc)]
    interface IWarrantAccountFactory {
        function IMPLEMENTATION() external view returns (address);
        function createAccount(address owner, bytes32 salt) external returns (address account);
        function getAddress(address owner, bytes32 salt) external view returns (address);
    }

    /// ERC-7579's module query.
    interface IModules {
        function isModuleInstalled(uint256 moduleTypeId, address module, bytes additionalContext)
            external view returns (bool);
    }
}

/// How many funded dev accounts the network has.
const DEV_ACCOUNTS: usize = 8;
/// Ether each dev account starts with.
const DEV_BALANCE_ETH: u64 = 1_000_000;
/// How long to wait for a transaction's receipt from anvil.
const TX_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped process gets to exit before it is killed.
const GRACE: Duration = Duration::from_secs(2);
/// Lines of each log printed when a run fails.
const LOG_TAIL_LINES: usize = 40;
/// Loaded into Alto's node process (`node --require`): Alto 0.0.20 listens on 0.0.0.0 with no option to change it
/// (`esm/rpc/server.js`: `fastify.listen({ port, host: "0.0.0.0" })`), which would expose an unauthenticated
/// bundler (and its executor key's funds) to the network. This keeps every server of that process on loopback.
const ALTO_LOOPBACK_PRELOAD: &str = r#"// warrant-chain devnet: every server of this process listens on 127.0.0.1 only.
"use strict";
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
    const first = args[0];
    if (first !== null && typeof first === "object" && first.path === undefined) {
        args[0] = { ...first, host: "127.0.0.1" };
    } else if (typeof first === "number" || (typeof first === "string" && /^[0-9]+$/.test(first))) {
        if (typeof args[1] === "string") {
            args[1] = "127.0.0.1";
        } else {
            args.splice(1, 0, "127.0.0.1");
        }
    }
    return listen.apply(this, args);
};
"#;

/// Dev account 0 deploys contracts and funds accounts.
pub const DEPLOYER: usize = 0;
/// Dev account 1 is Alto's executor (it sends the bundles).
pub const BUNDLER_EXECUTOR: usize = 1;
/// Dev account 2 is Alto's utility account.
pub const BUNDLER_UTILITY: usize = 2;
/// Dev accounts from this index on are free for tests (relayers, recipients…).
pub const FIRST_FREE_ACCOUNT: usize = 3;

/// Settings of a [`Devnet`].
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// anvil's `--hardfork`.
    pub hardfork: String,
    /// Chain id.
    pub chain_id: u64,
    /// How long each process may take to answer its first request.
    pub startup_timeout: Duration,
    /// Keep the logs even after a clean run.
    pub keep_logs: bool,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            hardfork: "osaka".into(),
            chain_id: 31337,
            startup_timeout: Duration::from_secs(60),
            keep_logs: std::env::var_os("WARRANT_E2E_KEEP_LOGS").is_some(),
        }
    }
}

/// The Warrant contracts deployed on a [`Devnet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarrantContracts {
    /// `WarrantAccountFactory`.
    pub factory: Address,
    /// `WarrantAccount`, the factory's implementation and the EIP-7702 delegate.
    pub implementation: Address,
    /// `WarrantValidator`.
    pub validator: Address,
}

/// A child process in its own process group, killed with its group on drop.
struct Service {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Service {
    fn spawn(name: &'static str, mut command: Command, log: PathBuf) -> Result<Self, ChainError> {
        let io_error = |e: std::io::Error| ChainError::Process {
            process: name,
            reason: e.to_string(),
            log: log.clone(),
        };
        let out = File::create(&log).map_err(io_error)?;
        let err = out.try_clone().map_err(io_error)?;
        command.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure touches no memory of the parent.
        #[cfg(target_os = "linux")]
        unsafe {
            command.pre_exec(|| {
                // Die with the test process even if it is killed before `Drop` runs.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(io_error)?;
        Ok(Self { name, child, log })
    }

    /// An error if the process has exited, with the end of its log.
    fn check_alive(&mut self) -> Result<(), ChainError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(ChainError::Process {
                process: self.name,
                reason: format!("exited early ({status}); log tail:\n{}", tail(&self.log, LOG_TAIL_LINES)),
                log: self.log.clone(),
            }),
            Err(e) => {
                Err(ChainError::Process { process: self.name, reason: e.to_string(), log: self.log.clone() })
            }
        }
    }

    fn signal_group(&self, signal: i32) {
        let Ok(pgid) = i32::try_from(self.child.id()) else { return };
        // SAFETY: plain syscall; a negative pid names the process group we created for this child.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            // Exited already; anything it left in its group is still killed.
            self.signal_group(libc::SIGKILL);
            return;
        }
        self.signal_group(libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < GRACE {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (the leader if it ignored SIGTERM, or any child it spawned).
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_port() -> Result<u16, ChainError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| ChainError::Process {
        process: "port allocation",
        reason: e.to_string(),
        log: PathBuf::new(),
    })?;
    listener.local_addr().map(|a| a.port()).map_err(|e| ChainError::Process {
        process: "port allocation",
        reason: e.to_string(),
        log: PathBuf::new(),
    })
}

fn url(port: u16) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}")).expect("a loopback URL parses")
}

/// anvil: `$WARRANT_ANVIL`, else the pinned npm package under `contracts/node_modules`.
pub fn anvil_path() -> PathBuf {
    std::env::var_os("WARRANT_ANVIL").map(PathBuf::from).unwrap_or_else(|| {
        artifacts::contracts_dir().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
    })
}

/// Alto's entry script: `$WARRANT_ALTO`, else the pinned npm package under `e2e/node_modules`.
pub fn alto_path() -> PathBuf {
    std::env::var_os("WARRANT_ALTO").map(PathBuf::from).unwrap_or_else(|| {
        artifacts::contracts_dir().join("../e2e/node_modules/@pimlico/alto/esm/cli/alto.js")
    })
}

fn node_path() -> Result<PathBuf, ChainError> {
    if let Some(node) = std::env::var_os("WARRANT_NODE") {
        return Ok(PathBuf::from(node));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("node"))
        .find(|p| p.is_file())
        .ok_or(ChainError::ToolMissing {
            tool: "node",
            path: PathBuf::from("$PATH"),
            hint: "install Node.js 20.6 or later (scripts/install-toolchain installs it from Debian)",
        })
}

/// Checks that anvil, node and Alto are installed, naming what is missing.
pub fn check_tools() -> Result<(), ChainError> {
    let hint = "run scripts/install-toolchain";
    let anvil = anvil_path();
    if !anvil.is_file() {
        return Err(ChainError::ToolMissing { tool: "anvil", path: anvil, hint });
    }
    let alto = alto_path();
    if !alto.is_file() {
        return Err(ChainError::ToolMissing { tool: "Alto (@pimlico/alto)", path: alto, hint });
    }
    node_path().map(|_| ())
}

/// A running anvil + Alto pair with EntryPoint v0.8 deployed; everything stops when dropped.
pub struct Devnet {
    // Dropped in this order by `Drop`: the bundler before the node it talks to.
    alto: Option<Service>,
    anvil: Option<Service>,
    log_dir: PathBuf,
    keep_logs: bool,
    rpc_url: Url,
    bundler_url: Url,
    chain_id: u64,
    signers: Vec<PrivateKeySigner>,
    provider: DynProvider,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("rpc_url", &self.rpc_url.as_str())
            .field("bundler_url", &self.bundler_url.as_str())
            .field("log_dir", &self.log_dir)
            .finish_non_exhaustive()
    }
}

impl Devnet {
    /// Starts anvil, deploys EntryPoint v0.8 at its canonical address, funds the dev accounts and starts Alto.
    pub async fn start(config: DevnetConfig) -> Result<Self, ChainError> {
        check_tools()?;
        let log_dir = log_dir()?;
        let signers = (0..DEV_ACCOUNTS)
            .map(|i| {
                PrivateKeySigner::from_bytes(&keccak256(format!("warrant devnet account {i}")))
                    .map_err(|e| ChainError::Signing(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let anvil_port = free_port()?;
        let mut anvil_cmd = Command::new(anvil_path());
        anvil_cmd.args([
            "--hardfork",
            &config.hardfork,
            "--host",
            "127.0.0.1",
            "--port",
            &anvil_port.to_string(),
            "--chain-id",
            &config.chain_id.to_string(),
            // Kernel v3.1's runtime code (28,581 bytes) is above EIP-170's 24,576.
            "--disable-code-size-limit",
        ]);
        let mut anvil = Service::spawn("anvil", anvil_cmd, log_dir.join("anvil.log"))?;
        let rpc_url = url(anvil_port);
        let mut wallet = EthereumWallet::from(signers[0].clone());
        for signer in &signers[1..] {
            wallet.register_signer(signer.clone());
        }
        let provider = ProviderBuilder::new().wallet(wallet).connect_http(rpc_url.clone()).erased();
        let deadline = Instant::now() + config.startup_timeout;
        loop {
            anvil.check_alive()?;
            match provider.get_chain_id().await {
                Ok(id) if id == config.chain_id => break,
                Ok(id) => {
                    return Err(ChainError::Process {
                        process: "anvil",
                        reason: format!("answers with chain id {id}, expected {}", config.chain_id),
                        log: anvil.log.clone(),
                    });
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => {
                    return Err(ChainError::Timeout {
                        what: format!("anvil at {rpc_url} ({e}); log {}", anvil.log.display()),
                        seconds: config.startup_timeout.as_secs(),
                    });
                }
            }
        }

        let mut devnet = Self {
            alto: None,
            anvil: Some(anvil),
            log_dir,
            // Until the network is fully up, a failure keeps the logs.
            keep_logs: true,
            rpc_url,
            bundler_url: url(0),
            chain_id: config.chain_id,
            signers,
            provider,
        };
        let funds = U256::from(DEV_BALANCE_ETH) * U256::from(10).pow(U256::from(18));
        for signer in devnet.signers.clone() {
            devnet.set_balance(signer.address(), funds).await?;
        }
        devnet.deploy_entry_point().await?;

        let alto_port = free_port()?;
        let key = |i: usize| alloy::primitives::hex::encode_prefixed(devnet.signers[i].to_bytes());
        let mut alto_cmd = Command::new(node_path()?);
        alto_cmd
            .arg("--require")
            .arg(write_loopback_preload(&devnet.log_dir)?)
            .arg(alto_path())
            .args(["--entrypoints", &ENTRY_POINT_V08.to_string()])
            .args(["--rpc-url", devnet.rpc_url.as_str()])
            .args(["--executor-private-keys", &key(BUNDLER_EXECUTOR)])
            .args(["--utility-private-key", &key(BUNDLER_UTILITY)])
            .args(["--port", &alto_port.to_string()])
            // Explicit, although it is the default: every operation goes through ERC-7562 tracing.
            .args(["--safe-mode", "true"])
            // anvil mines a block per transaction; poll for them often.
            .args(["--block-time", "250"])
            // A dApp page on another loopback port calls it with fetch (web/, docs/browser.md).
            .args(["--enable-cors", "true"])
            .env("NO_COLOR", "1");
        let alto = Service::spawn("alto", alto_cmd, devnet.log_dir.join("alto.log"))?;
        devnet.bundler_url = url(alto_port);
        devnet.alto = Some(alto);
        let bundler = devnet.bundler();
        loop {
            if let Some(alto) = devnet.alto.as_mut() {
                alto.check_alive()?;
            }
            match bundler.supported_entry_points().await {
                Ok(entry_points) if entry_points.contains(&ENTRY_POINT_V08) => break,
                Ok(entry_points) => {
                    return Err(ChainError::Process {
                        process: "alto",
                        reason: format!("supports {entry_points:?}, not EntryPoint v0.8"),
                        log: devnet.log_dir.join("alto.log"),
                    });
                }
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    return Err(ChainError::Timeout {
                        what: format!(
                            "Alto at {} ({e}); log {}",
                            devnet.bundler_url,
                            devnet.log_dir.display()
                        ),
                        seconds: config.startup_timeout.as_secs(),
                    });
                }
            }
        }
        devnet.keep_logs = config.keep_logs;
        Ok(devnet)
    }

    /// anvil's JSON-RPC URL.
    pub fn rpc_url(&self) -> &Url {
        &self.rpc_url
    }

    /// Alto's JSON-RPC URL.
    pub fn bundler_url(&self) -> &Url {
        &self.bundler_url
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Where the processes' logs are.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The process ids of Alto and anvil (each the leader of its own process group).
    pub fn process_ids(&self) -> Vec<u32> {
        self.alto.iter().chain(self.anvil.iter()).map(|s| s.child.id()).collect()
    }

    /// A provider of anvil that signs with every dev account (pick one with the request's `from`).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// A client of Alto for EntryPoint v0.8.
    pub fn bundler(&self) -> BundlerClient {
        BundlerClient::new(self.bundler_url.clone(), ENTRY_POINT_V08)
    }

    /// Dev account `i`'s key (see [`DEPLOYER`], [`BUNDLER_EXECUTOR`], [`BUNDLER_UTILITY`], [`FIRST_FREE_ACCOUNT`]).
    pub fn signer(&self, i: usize) -> &PrivateKeySigner {
        &self.signers[i]
    }

    /// Sets `address`'s balance (anvil's `anvil_setBalance`).
    pub async fn set_balance(&self, address: Address, wei: U256) -> Result<(), ChainError> {
        self.provider
            .raw_request::<_, ()>("anvil_setBalance".into(), (address, wei))
            .await
            .map_err(|e| node_error("anvil_setBalance", e))
    }

    /// Sends a transaction (signed by the dev account in `tx.from`, or the deployer) and waits for its receipt;
    /// an error if it reverted.
    pub async fn send(&self, mut tx: TransactionRequest) -> Result<TransactionReceipt, ChainError> {
        if tx.from.is_none() {
            tx.set_from(self.signers[DEPLOYER].address());
        }
        let pending =
            self.provider.send_transaction(tx).await.map_err(|e| node_error("eth_sendTransaction", e))?;
        let hash = *pending.tx_hash();
        let receipt = pending.with_timeout(Some(TX_TIMEOUT)).get_receipt().await.map_err(|e| {
            ChainError::Transport { method: "eth_getTransactionReceipt".into(), reason: e.to_string() }
        })?;
        if !receipt.status() {
            return Err(ChainError::Evm(format!("transaction {hash} reverted")));
        }
        Ok(receipt)
    }

    /// Deploys `init_code` from the deployer with `CREATE`.
    pub async fn deploy(&self, init_code: Bytes) -> Result<Address, ChainError> {
        let receipt = self.send(TransactionRequest::default().with_deploy_code(init_code)).await?;
        receipt.contract_address.ok_or_else(|| ChainError::DeploymentFailed("no contract address".into()))
    }

    async fn deploy_entry_point(&self) -> Result<(), ChainError> {
        let init_code = artifacts::entry_point_creation_code()?;
        let expected = create2_address(CREATE2_DEPLOYER, ENTRY_POINT_V08_SALT, &init_code);
        if expected != ENTRY_POINT_V08 {
            return Err(ChainError::WrongAddress {
                what: "EntryPoint v0.8",
                expected: ENTRY_POINT_V08,
                actual: expected,
            });
        }
        let deployer_code =
            self.provider.get_code_at(CREATE2_DEPLOYER).await.map_err(|e| node_error("eth_getCode", e))?;
        if deployer_code.is_empty() {
            return Err(ChainError::DeploymentFailed(format!(
                "anvil has no CREATE2 deployer at {CREATE2_DEPLOYER}"
            )));
        }
        let mut data = ENTRY_POINT_V08_SALT.to_vec();
        data.extend_from_slice(&init_code);
        self.send(TransactionRequest::default().with_to(CREATE2_DEPLOYER).with_input(data)).await?;
        let code =
            self.provider.get_code_at(ENTRY_POINT_V08).await.map_err(|e| node_error("eth_getCode", e))?;
        if code.is_empty() {
            return Err(ChainError::DeploymentFailed(format!(
                "no code at {ENTRY_POINT_V08} after the CREATE2 deployment"
            )));
        }
        Ok(())
    }

    /// Deploys Nexus 1.0.0 and Kernel v3.1 (implementations and factories, built for EntryPoint v0.8) and
    /// Warrant's `OwnerValidator`.
    pub async fn deploy_foreign_accounts(&self) -> Result<accounts::ForeignAccounts, ChainError> {
        let deployer = self.signers[DEPLOYER].address();
        let nexus_implementation = self.deploy(accounts::nexus_implementation_code(ENTRY_POINT_V08)?).await?;
        let nexus_factory =
            self.deploy(accounts::nexus_factory_code(nexus_implementation, deployer)?).await?;
        let nexus_bootstrap = self.deploy(accounts::nexus_bootstrap_code()?).await?;
        let kernel_implementation =
            self.deploy(accounts::kernel_implementation_code(ENTRY_POINT_V08)?).await?;
        let kernel_factory = self.deploy(accounts::kernel_factory_code(kernel_implementation)?).await?;
        let owner_validator = self.deploy(accounts::owner_validator_code()?).await?;
        Ok(accounts::ForeignAccounts {
            nexus_implementation,
            nexus_factory,
            nexus_bootstrap,
            kernel_implementation,
            kernel_factory,
            owner_validator,
        })
    }

    /// Creates a `kind` account owned by `owner` with a plain factory transaction (not a user operation's
    /// initCode: docs/e2e.md says why) and returns its address.
    pub async fn create_foreign_account(
        &self,
        kind: AccountKind,
        contracts: &accounts::ForeignAccounts,
        owner: Address,
        salt: B256,
    ) -> Result<Address, ChainError> {
        let (factory, data) = accounts::create_account_call(kind, contracts, owner, salt)?;
        let tx = TransactionRequest::default().with_to(factory).with_input(data);
        let out = self.provider.call(tx.clone()).await.map_err(|e| node_error("eth_call", e))?;
        let account = <Address as alloy::sol_types::SolValue>::abi_decode(&out)
            .map_err(|e| ChainError::DeploymentFailed(format!("{kind} factory returned {out}: {e}")))?;
        self.send(tx).await?;
        let code = self.provider.get_code_at(account).await.map_err(|e| node_error("eth_getCode", e))?;
        if code.is_empty() {
            return Err(ChainError::DeploymentFailed(format!(
                "no {kind} account at {account} after creation"
            )));
        }
        Ok(account)
    }

    /// Deploys `WarrantAccountFactory` (which deploys the `WarrantAccount` implementation) and
    /// `WarrantValidator` from forge's output (`contracts/out`).
    pub async fn deploy_warrant(&self) -> Result<WarrantContracts, ChainError> {
        let factory = self
            .deploy(artifacts::warrant_creation_code("WarrantAccountFactory.sol", "WarrantAccountFactory")?)
            .await?;
        let validator = self
            .deploy(artifacts::warrant_creation_code("WarrantValidator.sol", "WarrantValidator")?)
            .await?;
        let implementation = IWarrantAccountFactory::new(factory, &self.provider)
            .IMPLEMENTATION()
            .call()
            .await
            .map_err(|e| ChainError::Transport { method: "eth_call".into(), reason: e.to_string() })?;
        Ok(WarrantContracts { factory, implementation, validator })
    }
}

impl Devnet {
    /// A `WarrantAccount` proxy owned by `owner`, created by the factory, funded with `wei`, with `WarrantValidator`
    /// installed: ready for a session's grant. The install is an owner operation handed straight to
    /// `EntryPoint.handleOps` by the deployer, not through the bundler (setup, not what a test exercises).
    pub async fn create_warrant_account(
        &self,
        contracts: &WarrantContracts,
        owner: &PrivateKeySigner,
        salt: B256,
        wei: U256,
    ) -> Result<Address, ChainError> {
        use alloy::{signers::SignerSync, sol_types::SolCall};
        let create = IWarrantAccountFactory::createAccountCall { owner: owner.address(), salt }.abi_encode();
        let tx = TransactionRequest::default().with_to(contracts.factory).with_input(create);
        let out = self.provider.call(tx.clone()).await.map_err(|e| node_error("eth_call", e))?;
        let account = IWarrantAccountFactory::createAccountCall::abi_decode_returns(&out)
            .map_err(|e| ChainError::DeploymentFailed(format!("createAccount returned {out}: {e}")))?;
        self.send(tx).await?;
        self.set_balance(account, wei).await?;

        let nonce = self
            .provider
            .call(TransactionRequest::default().with_to(ENTRY_POINT_V08).with_input(
                IEntryPoint::getNonceCall { sender: account, key: Default::default() }.abi_encode(),
            ))
            .await
            .map_err(|e| node_error("eth_call", e))?;
        let gas_price = self.provider.get_gas_price().await.map_err(|e| node_error("eth_gasPrice", e))?;
        let mut op = UserOperation {
            sender: account,
            nonce: U256::from_be_slice(&nonce),
            call_data: AccountKind::WarrantAccount.install_validator(contracts.validator, &[]),
            call_gas_limit: alloy::primitives::U128::from(500_000),
            verification_gas_limit: alloy::primitives::U128::from(500_000),
            pre_verification_gas: U256::from(50_000),
            max_fee_per_gas: alloy::primitives::U128::from(gas_price * 2),
            max_priority_fee_per_gas: alloy::primitives::U128::from(gas_price),
            ..Default::default()
        };
        let hash =
            op.hash(ENTRY_POINT_V08, self.chain_id, None).map_err(|e| ChainError::Signing(e.to_string()))?;
        let signature = owner.sign_hash_sync(&hash).map_err(|e| ChainError::Signing(e.to_string()))?;
        op.signature = signature.as_bytes().to_vec().into();
        let beneficiary = self.signers[DEPLOYER].address();
        let handle = IEntryPoint::handleOpsCall { ops: vec![op.pack()], beneficiary }.abi_encode();
        self.send(
            TransactionRequest::default()
                .with_to(ENTRY_POINT_V08)
                .with_input(handle)
                .with_gas_limit(2_000_000),
        )
        .await?;
        let installed = IModules::isModuleInstalledCall {
            moduleTypeId: U256::from(warrant_core::account::MODULE_TYPE_VALIDATOR),
            module: contracts.validator,
            additionalContext: Bytes::new(),
        }
        .abi_encode();
        let out = self
            .provider
            .call(TransactionRequest::default().with_to(account).with_input(installed))
            .await
            .map_err(|e| node_error("eth_call", e))?;
        if U256::from_be_slice(&out) != U256::from(1) {
            return Err(ChainError::DeploymentFailed(format!(
                "WarrantValidator is not installed on {account} after the owner operation"
            )));
        }
        Ok(account)
    }
}

fn node_error(method: &str, e: alloy::transports::TransportError) -> ChainError {
    match e.as_error_resp() {
        Some(p) => ChainError::Node { method: method.into(), code: p.code, message: p.message.to_string() },
        None => ChainError::Transport {
            method: method.into(),
            reason: crate::bundler::redact_urls(&e.to_string()),
        },
    }
}

/// Writes [`ALTO_LOOPBACK_PRELOAD`] into the devnet's log directory and returns its path.
fn write_loopback_preload(dir: &Path) -> Result<PathBuf, ChainError> {
    let path = dir.join("alto-loopback.cjs");
    std::fs::write(&path, ALTO_LOOPBACK_PRELOAD).map_err(|e| ChainError::Process {
        process: "alto",
        reason: format!("cannot write {}: {e}", path.display()),
        log: path.clone(),
    })?;
    Ok(path)
}

fn log_dir() -> Result<PathBuf, ChainError> {
    let base = std::env::var_os("WARRANT_E2E_LOG_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
    let dir = base.join(format!("warrant-e2e-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| ChainError::Process {
        process: "log directory",
        reason: e.to_string(),
        log: dir.clone(),
    })?;
    Ok(dir)
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        // The bundler first, then the node.
        drop(self.alto.take());
        drop(self.anvil.take());
        if failed || self.keep_logs {
            eprintln!("devnet logs kept in {}", self.log_dir.display());
            if failed {
                for name in ["anvil.log", "alto.log"] {
                    let path = self.log_dir.join(name);
                    eprintln!(
                        "--- last {LOG_TAIL_LINES} lines of {} ---\n{}",
                        path.display(),
                        tail(&path, LOG_TAIL_LINES)
                    );
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}

sol! {
    /// `MockToken` of the Solidity tests (`contracts/test/mocks/Mocks.sol`): an 18-decimal ERC-20 anyone may mint.
    interface IMockToken {
        function mint(address to, uint256 amount) external;
        function balanceOf(address owner) external view returns (uint256);
    }
}

/// Dev account that [`Devnet::dev_environment`] hands to a person as their EOA.
pub const DEV_EOA: usize = FIRST_FREE_ACCOUNT;
/// Dev account that [`Devnet::dev_environment`] names as a payee ("Bob").
pub const DEV_RECIPIENT: usize = FIRST_FREE_ACCOUNT + 1;
/// Whole tokens of `MockToken` minted to the dev EOA (18 decimals).
pub const DEV_TOKEN_MINTED: u64 = 1_000_000;

/// What a fresh [`Devnet`] gets for a person (or a tool) to use it by hand: Warrant's contracts, a funded EOA
/// whose key is public (derived from a fixed string: a devnet key, never a real one), a test token minted to it,
/// and a payee. `warrant devnet` prints it as environment variables ([`DevEnvironment::env`]).
#[derive(Clone, Debug)]
pub struct DevEnvironment {
    /// Warrant's contracts.
    pub contracts: WarrantContracts,
    /// The dev EOA (funded with the dev accounts' ether, holding the test token).
    pub eoa: PrivateKeySigner,
    /// A second funded dev account to pay.
    pub recipient: Address,
    /// `MockToken` (symbol `MOCK`, 18 decimals).
    pub token: Address,
    /// The EOA's token balance, smallest units.
    pub token_balance: U256,
}

impl DevEnvironment {
    /// The environment variables that point Warrant's CLI (and Foundry's `cast`) at the devnet, in the order to
    /// print them. The EOA's key is in `WARRANT_PRIVATE_KEY`: the devnet's keys are public.
    pub fn env(&self, net: &Devnet) -> Vec<(&'static str, String)> {
        let checksum = |a: Address| a.to_checksum(None);
        vec![
            ("ETH_RPC_URL", net.rpc_url().as_str().trim_end_matches('/').to_owned()),
            ("WARRANT_BUNDLER_URL", net.bundler_url().as_str().trim_end_matches('/').to_owned()),
            ("CHAIN_ID", net.chain_id().to_string()),
            ("ENTRY_POINT", checksum(ENTRY_POINT_V08)),
            ("WARRANT_ACCOUNT", checksum(self.contracts.implementation)),
            ("WARRANT_FACTORY", checksum(self.contracts.factory)),
            ("VALIDATOR", checksum(self.contracts.validator)),
            ("EOA", checksum(self.eoa.address())),
            ("WARRANT_PRIVATE_KEY", alloy::primitives::hex::encode_prefixed(self.eoa.to_bytes())),
            ("MOCK", checksum(self.token)),
            ("BOB", checksum(self.recipient)),
        ]
    }
}

impl Devnet {
    /// Deploys a `MockToken` (from forge's output) from the deployer.
    pub async fn deploy_mock_token(&self) -> Result<Address, ChainError> {
        self.deploy(artifacts::warrant_creation_code("Mocks.sol", "MockToken")?).await
    }

    /// Mints `amount` of a `MockToken` to `to`.
    pub async fn mint_mock_token(&self, token: Address, to: Address, amount: U256) -> Result<(), ChainError> {
        use alloy::sol_types::SolCall;
        let data = IMockToken::mintCall { to, amount }.abi_encode();
        self.send(TransactionRequest::default().with_to(token).with_input(data)).await.map(|_| ())
    }

    /// Deploys Warrant's contracts and a `MockToken`, and mints [`DEV_TOKEN_MINTED`] tokens to the dev EOA
    /// ([`DEV_EOA`], already funded with ether): what a person needs to try Warrant by hand.
    pub async fn dev_environment(&self) -> Result<DevEnvironment, ChainError> {
        let contracts = self.deploy_warrant().await?;
        let token = self.deploy_mock_token().await?;
        let eoa = self.signers[DEV_EOA].clone();
        let token_balance = U256::from(DEV_TOKEN_MINTED) * U256::from(10).pow(U256::from(18));
        self.mint_mock_token(token, eoa.address(), token_balance).await?;
        Ok(DevEnvironment {
            contracts,
            eoa,
            recipient: self.signers[DEV_RECIPIENT].address(),
            token,
            token_balance,
        })
    }
}

impl Devnet {
    /// An error naming the process (with the end of its log) if anvil or Alto has exited.
    pub fn check_running(&mut self) -> Result<(), ChainError> {
        for service in self.anvil.iter_mut().chain(self.alto.iter_mut()) {
            service.check_alive()?;
        }
        Ok(())
    }
}
