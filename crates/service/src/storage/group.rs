//! Group commit for sends: one writer task records the sends of many requests in one transaction
//! ([`Storage::record_sends`]). A record must be durable (fsynced) before its operation can leave, so the cost
//! per commit stays; batching spreads it over every send that arrived while the previous commit was syncing.
//!
//! SQLite has one writer connection, so one task. PostgreSQL commits concurrently, so it gets several, each
//! batching the sends of its share of the keys: a key's sends always meet in one task, in the order they came.

use std::{
    hash::{BuildHasher, BuildHasherDefault, DefaultHasher},
    sync::Arc,
};

use tokio::sync::{mpsc, oneshot};

use super::{NewSend, Result, SendRecord, Storage, StorageError};

/// Most sends in one transaction (its statements bind 14 values a send: within SQLite's and Postgres's limits).
const MAX_BATCH: usize = 512;

type Request = (NewSend, oneshot::Sender<Result<SendRecord>>);

/// Writer tasks on PostgreSQL (its pool has connections to spare for the API's reads and the worker).
const POSTGRES_WRITERS: usize = 4;

/// A handle on the writer tasks; they end when every handle is dropped.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queues: Vec<mpsc::Sender<Request>>,
}

impl GroupCommit {
    /// Starts the writer tasks on `storage`: one on SQLite, four on PostgreSQL.
    pub fn start(storage: Arc<dyn Storage>) -> Self {
        let writers = if storage.backend() == "postgres" { POSTGRES_WRITERS } else { 1 };
        Self { queues: (0..writers).map(|_| writer(storage.clone())).collect() }
    }

    /// Records `send` with whatever else is waiting for its writer, and answers once the transaction is
    /// committed.
    pub async fn record(&self, send: NewSend) -> Result<SendRecord> {
        // DefaultHasher has fixed keys: a key always meets the same writer.
        let shard = BuildHasherDefault::<DefaultHasher>::default().hash_one(&send.job.key_id) as usize;
        let (answer, heard) = oneshot::channel();
        self.queues[shard % self.queues.len()]
            .send((send, answer))
            .await
            .map_err(|_| StorageError::Database("the writer task has stopped".into()))?;
        heard.await.map_err(|_| StorageError::Database("the writer task has stopped".into()))?
    }
}

/// One writer task: takes what is waiting (up to [`MAX_BATCH`]), records it in one transaction, answers each.
fn writer(storage: Arc<dyn Storage>) -> mpsc::Sender<Request> {
    let (queue, mut rx) = mpsc::channel::<Request>(4 * MAX_BATCH);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (sends, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match storage.record_sends(&sends, crate::ids::now()).await {
                Ok(records) => {
                    for (answer, record) in answers.into_iter().zip(records) {
                        let _ = answer.send(Ok(record));
                    }
                }
                // Nothing of the batch was committed: each request hears why.
                Err(e) => {
                    let message = e.to_string();
                    for answer in answers {
                        let _ = answer.send(Err(StorageError::Database(message.clone())));
                    }
                }
            }
        }
    });
    queue
}
