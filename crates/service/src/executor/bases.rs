//! What [`super::ChainExecutor`] keeps between prepares of one session, so that a prepare costs no node reads
//! while nothing can have changed what it would read.
//!
//! The rule: a session's [`Basis`] (counters, gates, epoch, nonce sequence, fees) and the bundler's gas
//! estimates for it (by presentation and calldata shape) are kept while the node's latest block is the one they
//! were read at and the service has sent no operation of the account since: until then nothing that would be
//! read can have changed, except by another sender. A new block, a submission, a refusal, or an operation that
//! was signed but not recorded ([`super::Executor::forget`]) drops it, and the next prepare reads again. Nothing
//! is counted on top of a reading: two operations prepared on one basis take one nonce, and the second is not
//! recorded while the first's run is open (`SendRecord::Busy`; the worker prepares a key's runs one at a time).
//! None of this carries exactly-once, which rests on the recorded operations and the EntryPoint nonce
//! (`crate::worker`): a stale basis (another sender's operation landed in a block the watcher has not seen yet)
//! can only make the pre-flight wrong, which the validator corrects, or make an operation take a used nonce,
//! which the bundler refuses and the worker replaces once the nonce has provably moved past it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
};
use warrant_chain::bundler::UserOperationGasEstimate;
use warrant_client::Basis;
use warrant_core::policy::{Call, Presentation};

/// How often the node's latest block number is asked.
const BLOCK_POLL: Duration = Duration::from_millis(100);
/// A block number older than this (the node stopped answering) keeps nothing.
const BLOCK_STALE: Duration = Duration::from_secs(1);

/// The calldata shape of a batch: targets, selectors, lengths, and whether value is sent. Two batches of one
/// shape differ only in argument words, so a gas estimate is reused within a block for the same shape.
pub(super) type Shape = Vec<(Address, [u8; 4], usize, bool)>;

/// The shape of `calls`.
pub(super) fn shape(calls: &[Call]) -> Shape {
    calls
        .iter()
        .map(|c| {
            let selector = c.data.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()).unwrap_or_default();
            (c.target, selector, c.data.len(), !c.value.is_zero())
        })
        .collect()
}

/// A kept basis and the estimates made on it.
#[derive(Debug)]
pub(super) struct Kept {
    /// The block it was read at.
    pub(super) block: u64,
    /// The account's submission count ([`Bases::submissions`]) when it was read.
    pub(super) submissions: u64,
    /// The basis.
    pub(super) basis: Basis,
    /// The bundler's estimates, by presentation and shape.
    pub(super) estimates: HashMap<(Presentation, Shape), UserOperationGasEstimate>,
}

/// A session's slot: one prepare at a time per session in this process, so two never sign one sequence.
pub(super) type Slot = Arc<tokio::sync::Mutex<Option<Kept>>>;

/// The sessions' kept bases, and the latest block.
#[derive(Debug)]
pub(super) struct Bases {
    slots: Mutex<HashMap<(Address, B256, u32), Slot>>,
    /// Operations sent per account: a basis read before the latest submission of its account is not used.
    sent: Mutex<HashMap<Address, u64>>,
    latest: Arc<Mutex<(u64, Instant)>>,
}

impl Bases {
    /// Starts the block watcher on `provider`, which stops when the returned value is dropped.
    pub(super) fn watch(provider: DynProvider) -> Self {
        let latest = Arc::new(Mutex::new((0, Instant::now() - BLOCK_STALE * 2)));
        let weak: Weak<Mutex<(u64, Instant)>> = Arc::downgrade(&latest);
        tokio::spawn(async move {
            loop {
                let block = provider.get_block_number().await;
                let Some(latest) = weak.upgrade() else { break };
                if let Ok(block) = block {
                    *latest.lock().expect("not poisoned") = (block, Instant::now());
                }
                drop(latest);
                tokio::time::sleep(BLOCK_POLL).await;
            }
        });
        Self { slots: Mutex::new(HashMap::new()), sent: Mutex::new(HashMap::new()), latest }
    }

    /// The latest block, if the node answered recently.
    pub(super) fn block(&self) -> Option<u64> {
        let (block, at) = *self.latest.lock().expect("not poisoned");
        (at.elapsed() < BLOCK_STALE).then_some(block)
    }

    /// The slot of session `id` of `account` in nonce lane `lane`.
    pub(super) fn slot(&self, account: Address, id: B256, lane: u32) -> Slot {
        self.slots.lock().expect("not poisoned").entry((account, id, lane)).or_default().clone()
    }

    /// How many operations of `account` were sent.
    pub(super) fn submissions(&self, account: Address) -> u64 {
        self.sent.lock().expect("not poisoned").get(&account).copied().unwrap_or_default()
    }

    /// An operation of `account` was sent: what is kept for its sessions is no longer used.
    pub(super) fn sent(&self, account: Address) {
        *self.sent.lock().expect("not poisoned").entry(account).or_default() += 1;
    }

    /// Whether `kept` may still be used for a session of `account`.
    pub(super) fn usable(&self, kept: &Kept, account: Address) -> bool {
        self.block() == Some(kept.block) && self.submissions(account) == kept.submissions
    }
}
