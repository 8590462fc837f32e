//! The background work of a replica, each task until the stop signal: forgetting idle rate
//! limit entries, and the tasks the other parts add (outbox deliveries, the sync schedule,
//! provider webhook events).

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::state::Server;

/// The running tasks.
pub(crate) struct Background {
    tasks: JoinSet<()>,
}

impl Background {
    /// Waits for every task to end.
    pub(crate) async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Runs `tick` every `every` until `stop` becomes true.
pub(crate) async fn every<F, Fut>(every: Duration, mut stop: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut + Send,
    Fut: std::future::Future<Output = ()> + Send,
{
    loop {
        let stopped = tokio::select! {
            changed = stop.wait_for(|s| *s) => { drop(changed); true }
            () = tokio::time::sleep(every) => false,
        };
        if stopped {
            return;
        }
        tick().await;
    }
}

/// Starts the background tasks of `server`; they end when `stop` becomes true.
pub(crate) fn start(server: Server, stop: watch::Receiver<bool>) -> Background {
    let mut tasks = JoinSet::new();
    let tidy = server.clone();
    tasks.spawn(every(Duration::from_secs(60), stop.clone(), move || {
        tidy.inner.limiter.tidy();
        std::future::ready(())
    }));
    if let Some(deliverer) = server.deliverer() {
        let mut stop = stop.clone();
        tasks.spawn(deliverer.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
    }
    crate::flows::spawn(&server, stop.clone(), &mut tasks);
    Background { tasks }
}
