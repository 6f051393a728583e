//! Group commit for sends: one writer task records the sends of many requests in one transaction
//! ([`Storage::record_sends`]). A record must be durable (fsynced) before its operation can leave, so the cost
//! per commit stays; batching spreads it over every send that arrived while the previous commit was syncing.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{NewSend, Result, SendRecord, Storage, StorageError};

/// Most sends in one transaction (its statements bind 14 values a send: within SQLite's and Postgres's limits).
const MAX_BATCH: usize = 512;

type Request = (NewSend, oneshot::Sender<Result<SendRecord>>);

/// A handle on the writer task; the task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    queue: mpsc::Sender<Request>,
}

impl GroupCommit {
    /// Starts the writer task on `storage`.
    pub fn start(storage: Arc<dyn Storage>) -> Self {
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
        Self { queue }
    }

    /// Records `send` with whatever else is waiting, and answers once the transaction is committed.
    pub async fn record(&self, send: NewSend) -> Result<SendRecord> {
        let (answer, heard) = oneshot::channel();
        self.queue
            .send((send, answer))
            .await
            .map_err(|_| StorageError::Database("the writer task has stopped".into()))?;
        heard.await.map_err(|_| StorageError::Database("the writer task has stopped".into()))?
    }
}
