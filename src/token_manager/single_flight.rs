//! Single flight: however many callers need a value at once, one task
//! produces it and every caller gets its result. The token manager's refresh
//! uses it; so will the caches that fetch (JWKS, introspection results).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};

/// The state shared by the callers and the task of a flight.
struct Shared<T> {
    /// The flight in progress, which callers join.
    current: Mutex<Option<watch::Receiver<Option<Result<T>>>>>,
    /// Whether a flight is in progress, readable without the lock (for hot
    /// paths that only need to know).
    running: AtomicBool,
}

/// At most one flight at a time; callers join the one in progress.
pub(crate) struct SingleFlight<T> {
    shared: Arc<Shared<T>>,
}

/// A caller's handle on a flight: await [`Flight::result`].
pub(crate) struct Flight<T> {
    rx: watch::Receiver<Option<Result<T>>>,
}

/// What to do when no flight is in progress (decided under the lock, so no
/// second flight can start in between).
pub(crate) enum Begin<F, T> {
    /// Start a flight running this work.
    Run(F),
    /// No flight needed: this is the result.
    Done(Result<T>),
}

impl<T: Clone + Send + Sync + 'static> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            shared: Arc::new(Shared {
                current: Mutex::new(None),
                running: AtomicBool::new(false),
            }),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Whether a flight is in progress.
    pub(crate) fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire)
    }

    /// Joins the flight in progress; else asks `begin` what to do and, for
    /// [`Begin::Run`], runs the work in a task of its own, so a caller that
    /// gives up does not cancel it for the others. A flight whose task ended
    /// without a result (a panic, a runtime shut down) is not joined.
    pub(crate) fn join_or_begin<F>(&self, begin: impl FnOnce() -> Begin<F, T>) -> Flight<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(rx) = current.as_ref().filter(|rx| rx.has_changed().is_ok()) {
            return Flight { rx: rx.clone() };
        }
        let work = match begin() {
            Begin::Run(work) => work,
            Begin::Done(result) => return Flight::ready(result),
        };
        let (tx, rx) = watch::channel(None);
        *current = Some(rx.clone());
        self.shared.running.store(true, Ordering::Release);
        drop(current);
        let mut landing = Landing {
            shared: self.shared.clone(),
            tx: Some(tx),
        };
        tokio::spawn(async move {
            let result = work.await;
            landing.land(result);
        });
        Flight { rx }
    }
}

impl<T: Clone> Flight<T> {
    /// A flight that is already over.
    pub(crate) fn ready(result: Result<T>) -> Self {
        Flight {
            rx: watch::channel(Some(result)).1,
        }
    }

    /// The flight's result, once there.
    pub(crate) async fn result(mut self) -> Result<T> {
        match self.rx.wait_for(Option::is_some).await {
            Ok(result) => result.clone().unwrap_or_else(|| Err(interrupted())),
            Err(_) => Err(interrupted()),
        }
    }
}

fn interrupted() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the work in flight was interrupted (it panicked or its runtime shut down)",
    )
}

/// Ends a flight however its task ends: with its result, or — if the task
/// panicked or was dropped with its runtime — with an error, so waiters are
/// released and the next caller starts a new flight.
struct Landing<T> {
    shared: Arc<Shared<T>>,
    tx: Option<watch::Sender<Option<Result<T>>>>,
}

impl<T> Landing<T> {
    fn land(&mut self, result: Result<T>) {
        // The flight is over for new callers before its result is out, so a
        // caller that finds the result stale starts a new one.
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *current = None;
        // Under the lock: a flight started right after this one must not
        // find its `running` flag cleared by this late store.
        self.shared.running.store(false, Ordering::Release);
        drop(current);
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Some(result));
        }
    }
}

impl<T> Drop for Landing<T> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.land(Err(interrupted()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn many_callers_one_run() {
        let flights = Arc::new(SingleFlight::<u32>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..1000 {
            let runs = runs.clone();
            let flight = flights.join_or_begin(move || {
                Begin::Run(async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok(7)
                })
            });
            waiting.push(tokio::spawn(flight.result()));
        }
        assert!(flights.is_running());
        for caller in waiting {
            assert_eq!(caller.await.unwrap().unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!flights.is_running());
        // Over: the next caller starts a new flight.
        let flight = flights.join_or_begin(|| Begin::Run(async { Ok(8) }));
        assert_eq!(flight.result().await.unwrap(), 8);
    }

    #[tokio::test]
    async fn done_needs_no_task_and_errors_reach_every_caller() {
        let flights = SingleFlight::<u32>::default();
        let flight = flights.join_or_begin(|| Begin::<std::future::Ready<_>, _>::Done(Ok(1)));
        assert_eq!(flight.result().await.unwrap(), 1);
        assert!(!flights.is_running());
        let failing =
            flights.join_or_begin(|| Begin::Run(async { Err(Error::invalid_input("no")) }));
        let joined = flights.join_or_begin(|| -> Begin<std::future::Ready<_>, _> {
            panic!("a flight is in progress: it must be joined")
        });
        assert_eq!(
            failing.result().await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            joined.result().await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[tokio::test]
    async fn a_panicking_flight_releases_its_callers() {
        let flights = SingleFlight::<u32>::default();
        let flight = flights.join_or_begin(|| {
            Begin::Run(async {
                if true {
                    panic!("the work panics");
                }
                Ok(0)
            })
        });
        let err = flight.result().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert!(!flights.is_running());
        let next = flights.join_or_begin(|| Begin::Run(async { Ok(2) }));
        assert_eq!(next.result().await.unwrap(), 2);
    }
}
