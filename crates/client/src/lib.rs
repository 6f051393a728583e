//! Warrant's client: everything that talks to a node and a bundler, for programs (game servers, agents,
//! backends, the `warrant` CLI) that send session operations.
//!
//! ```no_run
//! # async fn run(grant: warrant_core::SignedGrant, key: alloy::signers::local::PrivateKeySigner,
//! #     call: warrant_core::policy::Call) -> Result<(), warrant_client::ClientError> {
//! use warrant_client::{Client, ClientOptions, SendOptions};
//!
//! let client = Client::connect(
//!     "http://127.0.0.1:8545".parse().unwrap(),
//!     Some("http://127.0.0.1:4337".parse().unwrap()),
//!     ClientOptions::default(),
//! )
//! .await?;
//! // The pre-flight runs on the final operation before anything is signed: a refusal is
//! // `ClientError::Denied { denial, words }`, naming the validator's rule and saying what broke it.
//! let receipt = client.send(&grant, &key, vec![call], &SendOptions::default()).await?;
//! let status = client.status(&grant).await?; // what each limit has left, and when it refills
//! # Ok(()) }
//! ```
//!
//! [`Client::prepare`], [`Client::submit`] and [`Client::wait`] are the three steps of [`Client::send`], for a
//! caller that records the operation (its hash, nonce and period) before it is sent. [`StateReader`] reads the
//! validator's counters from a node or from the in-process chain, so a pre-flight reads the same state
//! wherever it runs.

mod basis;
mod delegation;
mod error;
mod node;
mod owner;
mod send;
mod signer;
mod state;
mod status;
mod words;

use std::time::Duration;

use alloy::{primitives::Address, sol, transports::http::reqwest::Url};
use warrant_chain::bundler::{self, BundlerClient};
use warrant_core::{account::AccountKind, constants::ENTRY_POINT_V08};

pub use basis::Basis;
pub use delegation::{Delegation, RESTORE_FILE_KIND, Restore, RestoreFile, Undelegation};
pub use error::ClientError;
pub use node::{Node, TRANSACTION_TIMEOUT};
pub use owner::OwnerKey;
pub use send::{Prepared, SendOptions};
pub use signer::SessionSigner;
pub use state::{SessionView, StateReader, session_usage_in};
pub use status::{GateStatus, SessionReport, SessionState};
pub use warrant_chain::bundler::UserOperationReceipt;

sol! {
    function accountId() external view returns (string);
}

/// How long a client waits for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long one request to the node or the bundler may take.
    pub request_timeout: Duration,
    /// How long [`Client::send`] waits for an operation's receipt.
    pub receipt_timeout: Duration,
    /// Multiply the bundler's verificationGasLimit estimate by this (unused verification gas is not charged;
    /// it only raises the prefund). 3 covers anvil's tracer, which under-reports a returned call's gas.
    pub verification_gas_headroom: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: bundler::DEFAULT_RPC_TIMEOUT,
            receipt_timeout: Duration::from_secs(120),
            verification_gas_headroom: 3,
        }
    }
}

/// A node and, for user operations, a bundler on the same chain.
#[derive(Clone, Debug)]
pub struct Client {
    node: Node,
    bundler: Option<BundlerClient>,
    options: ClientOptions,
}

impl Client {
    /// Connects to the node at `rpc` and, if given, the bundler at `bundler` (EntryPoint v0.8), and checks that
    /// both serve one chain.
    pub async fn connect(
        rpc: Url,
        bundler: Option<Url>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let node = Node::connect(rpc, options.request_timeout).await?;
        let bundler = bundler
            .map(|url| BundlerClient::with_timeout(url, ENTRY_POINT_V08, options.request_timeout))
            .transpose()?;
        if let Some(bundler) = &bundler {
            let chain = bundler.chain_id().await?;
            if chain != node.chain_id() {
                return Err(ClientError::WrongChain {
                    what: "the bundler",
                    expected: chain,
                    actual: node.chain_id(),
                });
            }
        }
        Ok(Self { node, bundler, options })
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.node.chain_id()
    }

    /// The bundler, or [`ClientError::NoBundler`].
    pub fn bundler(&self) -> Result<&BundlerClient, ClientError> {
        self.bundler.as_ref().ok_or(ClientError::NoBundler)
    }

    /// The options the client was connected with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// `given`, or the implementation `account` names in its `accountId()` (ERC-7579).
    pub async fn account_kind(
        &self,
        account: Address,
        given: Option<AccountKind>,
    ) -> Result<AccountKind, ClientError> {
        if let Some(kind) = given {
            return Ok(kind);
        }
        let id = self
            .node
            .view(account, accountIdCall {})
            .await
            .map_err(|e| ClientError::UnknownAccount { account, reason: e.to_string() })?;
        Ok(AccountKind::from_account_id(&id)?)
    }

    /// Checks that something made for `chain_id` (a grant, a restore transaction) is for this node's chain.
    fn check_chain(&self, what: &'static str, chain_id: u64) -> Result<(), ClientError> {
        if chain_id == self.chain_id() {
            Ok(())
        } else {
            Err(ClientError::WrongChain { what, expected: chain_id, actual: self.chain_id() })
        }
    }
}
