//! [`PortSet`]: the ports passive data connections may use (pyftpdlib's
//! `FTPHandler.passive_ports`, any sequence of ports), and how one is
//! picked for a new listener.

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::str::FromStr;

/// The ports PASV/EPSV listeners may bind (pyftpdlib `passive_ports`,
/// which takes any iterable of ports).
///
/// Built from whatever reads best: an inclusive range
/// (`(60000..=60100).into()`), a half-open range written as Python's
/// `range(60000, 65535)` (`(60000..65535).into()`, the end excluded as in
/// Python), a list (`vec![2000, 2001, 2005].into()`), any iterator of
/// ports (`.collect()`), or the text `"60000-60100,60200,60300"`
/// (`.parse()`, the command line's `--range`). Ports are kept sorted and
/// without duplicates.
///
/// ```
/// use ftpdlib::PortSet;
///
/// let ports: PortSet = (60000..65535).into(); // Python's range(60000, 65535)
/// assert_eq!(ports.len(), 5535);
/// assert!(!ports.contains(65535));
/// let listed: PortSet = "2000-2002,2005".parse().unwrap();
/// assert_eq!(listed.iter().collect::<Vec<_>>(), [2000, 2001, 2002, 2005]);
/// ```
#[doc(alias = "passive_ports")]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSet {
    /// Disjoint, sorted, non-adjacent inclusive ranges.
    ranges: Vec<RangeInclusive<u16>>,
}

impl PortSet {
    /// The set of the given ports (any order, duplicates allowed).
    pub fn new(ports: impl IntoIterator<Item = u16>) -> PortSet {
        let mut set = PortSet::default();
        for p in ports {
            set.insert_range(p..=p);
        }
        set
    }

    /// How many ports.
    pub fn len(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }

    /// No port at all (refused when the server is built).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(&port))
    }

    /// The ports in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|r| r.clone())
    }

    /// The set as disjoint inclusive ranges in increasing order.
    pub fn ranges(&self) -> &[RangeInclusive<u16>] {
        &self.ranges
    }

    /// The lowest port, if any.
    pub fn first(&self) -> Option<u16> {
        self.ranges.first().map(|r| *r.start())
    }

    /// The `i`-th port in increasing order.
    pub(crate) fn nth(&self, mut i: usize) -> Option<u16> {
        for r in &self.ranges {
            let n = r.len();
            if i < n {
                // i < n <= 65536, and start + i <= end: fits in u16.
                return u16::try_from(usize::from(*r.start()) + i).ok();
            }
            i -= n;
        }
        None
    }

    /// The order in which a new listener tries the ports: every port
    /// once, from a random one on, wrapping around (pyftpdlib draws them
    /// in random order; both try all before falling back to a port the
    /// kernel picks). `random` is any random number.
    pub(crate) fn try_order(&self, random: u64) -> impl Iterator<Item = u16> + '_ {
        let n = self.len();
        let start = if n == 0 {
            0
        } else {
            (random % n as u64) as usize
        };
        (0..n).filter_map(move |i| self.nth((start + i) % n))
    }

    /// Add `lo..=hi`, merging it with the ranges it touches.
    fn insert_range(&mut self, r: RangeInclusive<u16>) {
        if r.is_empty() {
            return;
        }
        let (mut lo, mut hi) = (*r.start(), *r.end());
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for x in self.ranges.drain(..) {
            let (a, b) = (*x.start(), *x.end());
            // Disjoint and not adjacent: kept as it is.
            if u32::from(b) + 1 < u32::from(lo) || u32::from(hi) + 1 < u32::from(a) {
                kept.push(x);
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        kept.push(lo..=hi);
        kept.sort_by_key(|x| *x.start());
        self.ranges = kept;
    }
}

impl From<RangeInclusive<u16>> for PortSet {
    /// `60000..=60100`: both ends included.
    fn from(r: RangeInclusive<u16>) -> PortSet {
        let mut set = PortSet::default();
        set.insert_range(r);
        set
    }
}

impl From<Range<u16>> for PortSet {
    /// `60000..65535`: Python's `range(60000, 65535)`, the end excluded.
    fn from(r: Range<u16>) -> PortSet {
        match r.end.checked_sub(1) {
            Some(last) if r.start <= last => PortSet::from(r.start..=last),
            _ => PortSet::default(),
        }
    }
}

impl From<Vec<u16>> for PortSet {
    fn from(ports: Vec<u16>) -> PortSet {
        PortSet::new(ports)
    }
}

impl From<&[u16]> for PortSet {
    fn from(ports: &[u16]) -> PortSet {
        PortSet::new(ports.iter().copied())
    }
}

impl<const N: usize> From<[u16; N]> for PortSet {
    fn from(ports: [u16; N]) -> PortSet {
        PortSet::new(ports)
    }
}

impl FromIterator<u16> for PortSet {
    fn from_iter<I: IntoIterator<Item = u16>>(ports: I) -> PortSet {
        PortSet::new(ports)
    }
}

impl fmt::Display for PortSet {
    /// `60000-60100,60200`: the form [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if r.start() == r.end() {
                write!(f, "{}", r.start())?;
            } else {
                write!(f, "{}-{}", r.start(), r.end())?;
            }
        }
        Ok(())
    }
}

/// A port list that [`PortSet::from_str`] could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSetError(String);

impl fmt::Display for PortSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PortSetError {}

impl FromStr for PortSet {
    type Err = PortSetError;

    /// Comma-separated ports and `FROM-TO` ranges (both ends included,
    /// FROM < TO), each port 1-65535: `60000-60100,60200`.
    fn from_str(text: &str) -> Result<PortSet, PortSetError> {
        let mut set = PortSet::default();
        for item in text.split(',') {
            let item = item.trim();
            let port = |s: &str| match s.trim().parse::<u16>() {
                Ok(p) if p > 0 => Ok(p),
                _ => Err(PortSetError(format!("{s:?} is not a port number 1-65535"))),
            };
            match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (port(a)?, port(b)?);
                    if a >= b {
                        return Err(PortSetError(format!(
                            "{item:?}: expected FROM-TO with FROM < TO"
                        )));
                    }
                    set.insert_range(a..=b);
                }
                None => set.insert_range(port(item)?..=port(item)?),
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::PortSet;

    #[test]
    fn a_half_open_range_excludes_its_end_as_python_range_does() {
        let r: PortSet = (60000..65535).into();
        assert_eq!(r.len(), 5535);
        assert_eq!(r.first(), Some(60000));
        assert!(r.contains(65534) && !r.contains(65535));
        let incl: PortSet = (60000..=65535).into();
        assert_eq!(incl.len(), 5536);
        assert!(PortSet::from(5..5).is_empty());
        assert_eq!(PortSet::from(0..=65535).len(), 65536);
    }

    #[test]
    fn lists_are_sorted_merged_and_deduplicated() {
        let s = PortSet::new([2005, 2001, 2000, 2001, 2002]);
        assert_eq!(s.ranges(), [2000..=2002, 2005..=2005]);
        assert_eq!(s.to_string(), "2000-2002,2005");
        let merged: PortSet = [10u16, 12, 11].into();
        assert_eq!(merged.ranges(), [10..=12]);
    }

    #[test]
    fn text_form_reads_ranges_and_lists() {
        let s: PortSet = "60000-60002, 60010,60005-60006".parse().unwrap();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [60000, 60001, 60002, 60005, 60006, 60010]
        );
        for bad in ["", "0", "70000", "5-5", "9-3", "a-b", "1,,2", "-5"] {
            assert!(bad.parse::<PortSet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_port_is_tried_once_from_a_random_start() {
        let s: PortSet = "10-12,20".parse().unwrap();
        for random in [0u64, 1, 3, 7, u64::MAX] {
            let mut tried: Vec<u16> = s.try_order(random).collect();
            assert_eq!(tried.len(), 4);
            tried.sort_unstable();
            assert_eq!(tried, [10, 11, 12, 20]);
        }
        assert_eq!(s.try_order(5).next(), Some(11));
        assert_eq!(PortSet::default().try_order(9).count(), 0);
    }
}
