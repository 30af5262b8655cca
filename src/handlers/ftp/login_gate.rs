//! The slow login checks of a loop's sessions on their way to the worker
//! pool: at most `auth_max_in_flight` on the pool at once, and at most
//! `auth_max_in_flight_per_ip` from one client address, so that one
//! address (a brute-force client with many connections) cannot take the
//! whole pool. Checks beyond the limits wait their turn, first come first
//! served among the addresses that are under their limit. A waiting session
//! reads no input, so each session has at most one check here: the queue is
//! bounded by the connections (`max_cons`, `max_cons_per_ip`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::authorizers::SlowCheck;
use crate::ioloop::Link;

/// The two limits, 0 = none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub total: usize,
    pub per_ip: usize,
}

struct Waiting {
    link: Link,
    ip: IpAddr,
    check: SlowCheck,
}

/// Checks in flight and waiting (shared by the loop's control channels).
#[derive(Default)]
pub(crate) struct LoginGate {
    in_flight: usize,
    per_ip: HashMap<IpAddr, usize>,
    waiting: VecDeque<Waiting>,
}

impl LoginGate {
    /// The check of the session at `link` (client `ip`): returned to run
    /// now, or kept to wait its turn (`None`).
    pub fn submit(
        &mut self,
        link: Link,
        ip: IpAddr,
        check: SlowCheck,
        limits: Limits,
    ) -> Option<SlowCheck> {
        // No waiting check may run (`finish` starts them as soon as they
        // may): only this one can be under its limits.
        if self.may_run(ip, limits) {
            self.enter(ip);
            return Some(check);
        }
        self.waiting.push_back(Waiting { link, ip, check });
        None
    }

    /// A check from `ip` left the pool (it ended, or its session closed):
    /// the waiting checks that may run now, with their sessions.
    pub fn finish(&mut self, ip: IpAddr, limits: Limits) -> Vec<(Link, SlowCheck)> {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        let mut ready = Vec::new();
        while let Some(i) = self.waiting.iter().position(|w| self.may_run(w.ip, limits)) {
            let Some(w) = self.waiting.remove(i) else {
                break;
            };
            self.enter(w.ip);
            ready.push((w.link, w.check));
        }
        ready
    }

    /// The session at `link` closed: drop its check if it still waits;
    /// false if it was not waiting (it is in flight, or there is none).
    pub fn cancel(&mut self, link: Link) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.link != link);
        self.waiting.len() != before
    }

    fn may_run(&self, ip: IpAddr, limits: Limits) -> bool {
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        (limits.total == 0 || self.in_flight < limits.total)
            && (limits.per_ip == 0 || from_ip < limits.per_ip)
    }

    fn enter(&mut self, ip: IpAddr) {
        self.in_flight += 1;
        *self.per_ip.entry(ip).or_insert(0) += 1;
    }
}
