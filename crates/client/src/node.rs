//! A node over JSON-RPC: the reads every command needs, with one timeout and errors that name the method.

use std::time::Duration;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, U128},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::http::reqwest::Url,
};
use warrant_chain::{ChainError, bundler};

use crate::ClientError;

/// How long a transaction sent by the client may take to be mined.
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A node: its provider, its chain id, and the timeout of each request.
#[derive(Clone, Debug)]
pub struct Node {
    url: Url,
    provider: DynProvider,
    chain_id: u64,
    timeout: Duration,
}

impl Node {
    /// Connects to the node at `url` (one `eth_chainId` request); every request ends after `timeout`.
    pub async fn connect(url: Url, timeout: Duration) -> Result<Self, ClientError> {
        let client = bundler::http_client(url.clone(), timeout)?;
        let provider = ProviderBuilder::new().connect_client(client).erased();
        let mut node = Self { url, provider, chain_id: 0, timeout };
        node.chain_id = node.provider.get_chain_id().await.map_err(|e| node.error("eth_chainId", e))?;
        Ok(node)
    }

    /// The node's chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The provider, for reads the client does not wrap.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// A failed request to the node, named by its method (a timeout says how long it waited).
    pub fn error(&self, method: &str, e: impl std::error::Error + 'static) -> ClientError {
        ClientError::Chain(bundler::transport_error(method, &e, self.timeout))
    }

    /// A failed `send_transaction`: a revert in the node's gas estimate (the data named when the SDK knows it),
    /// else the request's error.
    fn revert_or_error(&self, e: alloy::transports::TransportError) -> ClientError {
        match e.as_error_resp().and_then(|payload| payload.as_revert_data()) {
            Some(data) => ClientError::TransactionReverted {
                method: "eth_estimateGas".into(),
                named: warrant_core::revert::name_revert(&data),
                data,
            },
            None => self.error("eth_sendTransaction", e),
        }
    }

    /// An answer that could not be used.
    pub(crate) fn fault(method: &str, reason: impl std::fmt::Display) -> ClientError {
        ClientError::Chain(ChainError::Transport { method: method.into(), reason: reason.to_string() })
    }

    /// `eth_call` of a Solidity function, decoded.
    pub async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ClientError> {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.provider.call(tx).await.map_err(|e| self.error("eth_call", e))?;
        C::abi_decode_returns(&out)
            .map_err(|e| Self::fault("eth_call", format!("undecodable answer from {to}: {e}")))
    }

    /// The code at `address` (an EIP-7702 account's is its delegation designator).
    pub async fn code(&self, address: Address) -> Result<Bytes, ClientError> {
        self.provider.get_code_at(address).await.map_err(|e| self.error("eth_getCode", e))
    }

    /// The latest block's timestamp: the time the next operation is validated at, give or take a block.
    pub async fn now(&self) -> Result<u64, ClientError> {
        let block = self
            .provider
            .get_block_by_number(Default::default())
            .await
            .map_err(|e| self.error("eth_getBlockByNumber", e))?
            .ok_or_else(|| Self::fault("eth_getBlockByNumber", "no latest block"))?;
        Ok(block.header.timestamp)
    }

    /// The account's transaction nonce.
    pub async fn transaction_count(&self, account: Address) -> Result<u64, ClientError> {
        self.provider
            .get_transaction_count(account)
            .await
            .map_err(|e| self.error("eth_getTransactionCount", e))
    }

    /// The node's EIP-1559 fee estimate: `(maxFeePerGas, maxPriorityFeePerGas)`.
    pub async fn fees(&self) -> Result<(u128, u128), ClientError> {
        let fees =
            self.provider.estimate_eip1559_fees().await.map_err(|e| self.error("eth_feeHistory", e))?;
        Ok((fees.max_fee_per_gas, fees.max_priority_fee_per_gas))
    }

    /// Fees for a user operation: the bundler's (`pimlico_getUserOperationGasPrice`) when it answers, else the
    /// node's estimate.
    pub(crate) async fn user_op_fees(
        &self,
        bundler: &bundler::BundlerClient,
    ) -> Result<(u128, u128), ClientError> {
        if let Ok(price) = bundler.user_operation_gas_price().await {
            let cap = |v: U128| v.to::<u128>();
            return Ok((cap(price.max_fee_per_gas), cap(price.max_priority_fee_per_gas)));
        }
        self.fees().await
    }

    /// Signs `tx` with `wallet` (nonce, gas and fees filled by the node), sends it and waits for its receipt.
    pub async fn send_transaction(
        &self,
        wallet: &PrivateKeySigner,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt, ClientError> {
        let client = bundler::http_client(self.url.clone(), self.timeout)?;
        let provider =
            ProviderBuilder::new().wallet(EthereumWallet::from(wallet.clone())).connect_client(client);
        let pending = provider.send_transaction(tx).await.map_err(|e| self.revert_or_error(e))?;
        pending
            .with_timeout(Some(TRANSACTION_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| self.error("eth_getTransactionReceipt", e))
    }

    /// Sends signed EIP-2718 bytes and waits for the receipt.
    pub async fn send_raw_transaction(&self, raw: &[u8]) -> Result<TransactionReceipt, ClientError> {
        let pending = self
            .provider
            .send_raw_transaction(raw)
            .await
            .map_err(|e| self.error("eth_sendRawTransaction", e))?;
        pending
            .with_timeout(Some(TRANSACTION_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| self.error("eth_getTransactionReceipt", e))
    }
}
