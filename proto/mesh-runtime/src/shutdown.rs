//! Shutdown is an input: the composition root owns the trigger, every task gets a `Shutdown`.

use tokio::sync::watch;

/// The side that asks everything to stop.
#[derive(Debug)]
pub struct ShutdownSignal {
    sender: watch::Sender<bool>,
}

/// The side every long-running task holds; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

impl ShutdownSignal {
    pub fn new() -> (ShutdownSignal, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (ShutdownSignal { sender }, Shutdown { receiver })
    }

    pub fn trigger(&self) {
        let _ = self.sender.send(true);
    }
}

impl Shutdown {
    /// A shutdown that never fires, for tools and tests that run to completion.
    pub fn never() -> Shutdown {
        let (sender, receiver) = watch::channel(false);
        // Leaking the sender keeps the channel open so `wait` stays pending forever.
        std::mem::forget(sender);
        Shutdown { receiver }
    }

    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Resolves once shutdown has been asked for (or the signal side is gone).
    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        let _ = receiver.wait_for(|triggered| *triggered).await;
    }
}

/// Retry loops stop waiting at shutdown.
impl proto::retry::StopSignal for Shutdown {
    fn is_stopped(&self) -> bool {
        self.is_triggered()
    }

    fn stopped(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        let mut receiver = self.receiver.clone();
        Box::pin(async move {
            let _ = receiver.wait_for(|triggered| *triggered).await;
        })
    }
}
