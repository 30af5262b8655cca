//! Bans across sessions: failed logins counted per client address and per
//! user name over a window; past `ban_attempts` the address (or the name)
//! is banned for `ban_time` (ftpdlib extension; pyftpdlib only has the
//! per-session `max_login_attempts`). unFTP's "failed logins policy" is the
//! model.
//!
//! One table per server (per worker process with `--workers`), shared by
//! every generation of the handler (`live.rs`). Memory is bounded: at most
//! `ban_table_size` addresses and as many names; when a table is full,
//! expired entries go first, then the one seen longest ago. Entries also
//! expire lazily when looked up.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The ban settings, copied from the handler at each use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Failed logins from one address that ban it; 0 = no address bans.
    pub attempts: u32,
    /// Failed logins as one user name that ban it; 0 = no name bans.
    pub user_attempts: u32,
    /// The window the failures are counted in.
    pub window: Duration,
    /// How long a ban lasts.
    pub time: Duration,
    /// Cap of each table.
    pub table_size: usize,
}

/// Failures of one key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failures since `since`.
    failures: u32,
    /// Start of the current window.
    since: Instant,
    /// Last time the key was seen (for eviction).
    last: Instant,
    /// Banned until then.
    until: Option<Instant>,
}

impl Entry {
    fn expired(&self, now: Instant, policy: &Policy) -> bool {
        match self.until {
            Some(until) => until <= now,
            None => match self.since.checked_add(policy.window) {
                Some(end) => end <= now,
                // A window too long for the clock never ends.
                None => false,
            },
        }
    }
}

/// The two tables.
#[derive(Debug, Default)]
pub(crate) struct Bans {
    ips: HashMap<IpAddr, Entry>,
    users: HashMap<String, Entry>,
}

/// What a failed login led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The address was banned by this failure.
    pub ip_banned: bool,
    /// The user name was banned by this failure.
    pub user_banned: bool,
}

impl Bans {
    /// How long `ip` stays banned, if it is.
    pub fn ip_ban(&mut self, ip: IpAddr, now: Instant, policy: &Policy) -> Option<Duration> {
        remaining(&mut self.ips, &ip, now, policy)
    }

    /// How long `user` stays banned, if it is.
    pub fn user_ban(&mut self, user: &str, now: Instant, policy: &Policy) -> Option<Duration> {
        remaining(&mut self.users, user, now, policy)
    }

    /// Count a failed login of `user` from `ip`.
    pub fn failed(&mut self, ip: IpAddr, user: &str, now: Instant, policy: &Policy) -> Outcome {
        let ip_banned =
            policy.attempts != 0 && count(&mut self.ips, ip, now, policy, policy.attempts);
        let user_banned = policy.user_attempts != 0
            && count(
                &mut self.users,
                user.to_owned(),
                now,
                policy,
                policy.user_attempts,
            );
        Outcome {
            ip_banned,
            user_banned,
        }
    }

    /// Entries held (both tables).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.ips.len() + self.users.len()
    }
}

fn remaining<K, Q>(
    map: &mut HashMap<K, Entry>,
    key: &Q,
    now: Instant,
    policy: &Policy,
) -> Option<Duration>
where
    K: std::borrow::Borrow<Q> + Hash + Eq,
    Q: Hash + Eq + ?Sized,
{
    let entry = map.get(key)?;
    if entry.expired(now, policy) {
        map.remove(key);
        return None;
    }
    entry
        .until
        .map(|until| until.saturating_duration_since(now))
}

/// Count one failure of `key`; true when it starts a ban.
fn count<K: Hash + Eq + Clone>(
    map: &mut HashMap<K, Entry>,
    key: K,
    now: Instant,
    policy: &Policy,
    attempts: u32,
) -> bool {
    if !map.contains_key(&key) && map.len() >= policy.table_size.max(1) {
        make_room(map, now, policy);
    }
    let entry = map.entry(key).or_insert(Entry {
        failures: 0,
        since: now,
        last: now,
        until: None,
    });
    if entry.expired(now, policy) {
        *entry = Entry {
            failures: 0,
            since: now,
            last: now,
            until: None,
        };
    }
    entry.last = now;
    if entry.until.is_some() {
        return false;
    }
    entry.failures += 1;
    if entry.failures < attempts {
        return false;
    }
    // A ban too long for the clock is a ban for as long as it can be.
    entry.until = Some(
        now.checked_add(policy.time)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86400)),
    );
    true
}

/// Drop expired entries; if none was, the one seen longest ago.
fn make_room<K: Hash + Eq + Clone>(map: &mut HashMap<K, Entry>, now: Instant, policy: &Policy) {
    let before = map.len();
    map.retain(|_, e| !e.expired(now, policy));
    if map.len() < before {
        return;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, e)| e.last)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            attempts: 3,
            user_attempts: 3,
            window: Duration::from_secs(60),
            time: Duration::from_secs(600),
            table_size: 4,
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn third_failure_in_window_bans_address_and_user_until_ban_time() {
        let (p, t0) = (policy(), Instant::now());
        let mut b = Bans::default();
        assert!(!b.failed(ip(10), "bob", t0, &p).ip_banned);
        assert!(!b.failed(ip(10), "bob", t0, &p).ip_banned);
        let out = b.failed(ip(10), "bob", t0 + Duration::from_secs(59), &p);
        assert!(out.ip_banned && out.user_banned);
        let later = t0 + Duration::from_secs(100);
        assert_eq!(b.ip_ban(ip(10), later, &p), Some(Duration::from_secs(559)));
        assert!(b.user_ban("bob", later, &p).is_some());
        assert!(b.ip_ban(ip(11), later, &p).is_none());
        assert!(b.user_ban("alice", later, &p).is_none());
        // Over: forgotten.
        let over = t0 + Duration::from_secs(59 + 600);
        assert!(b.ip_ban(ip(10), over, &p).is_none());
        assert!(b.user_ban("bob", over, &p).is_none());
    }

    #[test]
    fn failures_spread_over_more_than_the_window_never_ban() {
        let (p, t0) = (policy(), Instant::now());
        let mut b = Bans::default();
        for i in 0..10 {
            let out = b.failed(ip(10), "bob", t0 + Duration::from_secs(31 * i), &p);
            assert!(!out.ip_banned, "failure {i}");
        }
    }

    #[test]
    fn table_stays_within_its_cap() {
        let (p, t0) = (policy(), Instant::now());
        let mut b = Bans::default();
        for n in 0..200u8 {
            b.failed(
                ip(n),
                &format!("u{n}"),
                t0 + Duration::from_millis(u64::from(n)),
                &p,
            );
        }
        assert!(b.len() <= 2 * p.table_size, "{}", b.len());
        // The newest survive.
        b.failed(ip(199), "u199", t0 + Duration::from_secs(1), &p);
        assert!(
            b.failed(ip(199), "u199", t0 + Duration::from_secs(1), &p)
                .ip_banned
        );
    }

    #[test]
    fn huge_ban_time_does_not_overflow() {
        let mut p = policy();
        p.time = Duration::MAX;
        p.window = Duration::MAX;
        let t0 = Instant::now();
        let mut b = Bans::default();
        p.user_attempts = 0;
        for _ in 0..3 {
            b.failed(ip(1), "bob", t0, &p);
        }
        assert!(b.ip_ban(ip(1), t0, &p).is_some());
        // Name bans off: no name is followed.
        assert_eq!(b.users.len(), 0);
    }
}
