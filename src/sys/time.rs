//! Broken-down calendar time (pyftpdlib's `time.gmtime`/`time.localtime`)
//! and file times (`utimensat(2)`, pyftpdlib's `os.utime`).

use std::io;
use std::path::Path;

use super::c_path;

/// Broken-down calendar time (Python's `time.struct_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tm {
    /// Full year, e.g. 2020.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub min: u32,
    /// Second, 0-60.
    pub sec: u32,
}

/// The epoch, used when the C library cannot convert a timestamp.
const EPOCH: Tm = Tm {
    year: 1970,
    month: 1,
    day: 1,
    hour: 0,
    min: 0,
    sec: 0,
};

/// `ts` (epoch seconds) as UTC (`gmtime_r`) or local time (`localtime_r`);
/// the epoch if the conversion fails.
pub(crate) fn broken_down(ts: i64, utc: bool) -> Tm {
    // time_t is 64-bit on every target ftpdlib supports.
    let t = ts as libc::time_t;
    // SAFETY: `libc::tm` is plain old data for which all-zero bytes are a
    // valid value (the pointer field `tm_zone` becomes null).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live, properly aligned locals; the
    // reentrant variants write only into `tm`.
    let res = unsafe {
        if utc {
            libc::gmtime_r(&t, &mut tm)
        } else {
            libc::localtime_r(&t, &mut tm)
        }
    };
    if res.is_null() {
        return EPOCH;
    }
    let field = |v: libc::c_int| u32::try_from(v).unwrap_or(0);
    Tm {
        year: tm.tm_year.saturating_add(1900),
        month: field(tm.tm_mon) + 1,
        day: field(tm.tm_mday),
        hour: field(tm.tm_hour),
        min: field(tm.tm_min),
        sec: field(tm.tm_sec),
    }
}

/// Sets access and modification time of `path` (symlinks followed) to
/// `mtime` epoch seconds, like pyftpdlib's `os.utime(path, (t, t))`.
pub(crate) fn set_mtime(path: &Path, mtime: i64) -> io::Result<()> {
    let cpath = c_path(path)?;
    let secs =
        libc::time_t::try_from(mtime).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let ts = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = [ts, ts];
    // SAFETY: `cpath` is NUL-terminated and `times` is a live array of the
    // two timespecs utimensat reads.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, cpath.as_ptr(), times.as_ptr(), 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::tmp;

    #[test]
    fn broken_down_utc() {
        let tm = broken_down(1_579_083_630, true);
        let want = Tm {
            year: 2020,
            month: 1,
            day: 15,
            hour: 10,
            min: 20,
            sec: 30,
        };
        assert_eq!(tm, want);
        assert_eq!(broken_down(0, true), EPOCH);
        let local = broken_down(1_579_083_630, false);
        assert_eq!((local.year, local.month), (2020, 1));
        // Far out of range (year overflows int): no panic, epoch fallback.
        assert_eq!(broken_down(i64::MAX, true), EPOCH);
    }

    #[test]
    fn mtime() {
        let p = tmp("mtime");
        std::fs::write(&p, b"x").unwrap();
        set_mtime(&p, 1_579_083_630).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        let secs =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs(m.modified().unwrap()), 1_579_083_630);
        assert_eq!(secs(m.accessed().unwrap()), 1_579_083_630);
        assert!(set_mtime(Path::new("a\0b"), 0).is_err());
        assert!(set_mtime(&p.with_extension("missing"), 0).is_err());
        std::fs::remove_file(&p).unwrap();
    }
}
