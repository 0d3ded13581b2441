//! Test hooks for the transactional writes (see [`crate::transaction`]): every step that
//! changes the disk (a temp file written, the journal written, a rename, a deletion, a
//! directory made or removed, a directory synced) goes through [`step`], which counts it
//! and can make it fail or end the process right after it.
//!
//! Why: the promise that an interrupted run leaves the tree as before or as after is
//! only worth what tests prove, and a test cannot pull the plug at a chosen point
//! without a hook. The hooks are read from the environment once; unset, a step costs
//! one atomic increment.
//!
//! - `FIXER_FAIL_AFTER=N`: right after the N-th step the process ends as `kill -9`
//!   would end it (`_exit(137)`: no destructors, no buffers flushed, no cleanup).
//! - `FIXER_FAIL_IO=N:ERR` (ERR one of `enospc`, `eacces`, `eio`): the N-th step is
//!   not done and returns that error instead, as a full disk or a refused permission
//!   would (the tests run as root, whom permissions do not stop).
//! - `FIXER_COUNT_STEPS=1`: `apply` prints how many steps it took (`note: N filesystem
//!   steps`), so a test can try every N.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static STEPS: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Default)]
struct Hooks {
    fail_after: Option<u64>,
    fail_io: Option<(u64, i32)>,
}

fn hooks() -> &'static Hooks {
    static HOOKS: OnceLock<Hooks> = OnceLock::new();
    HOOKS.get_or_init(|| Hooks {
        fail_after: hook("FIXER_FAIL_AFTER", "a step number", |v| {
            v.trim().parse().ok()
        }),
        fail_io: hook(
            "FIXER_FAIL_IO",
            "N:enospc, N:eacces or N:eio",
            parse_fail_io,
        ),
    })
}

/// The hook `name` parsed, when it is set; a value that does not parse is ignored, and
/// said so (a test that sets it wrong must not pass for the wrong reason).
fn hook<T>(name: &str, expected: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let parsed = parse(&value);
    if parsed.is_none() {
        eprintln!("warning: {name}={value}: not {expected}; ignored");
    }
    parsed
}

/// `N:enospc` and the like; `None` for anything else.
fn parse_fail_io(spec: &str) -> Option<(u64, i32)> {
    let (n, err) = spec.split_once(':')?;
    let errno = match err.trim().to_ascii_lowercase().as_str() {
        "enospc" => libc::ENOSPC,
        "eacces" => libc::EACCES,
        "eio" => libc::EIO,
        _ => return None,
    };
    Some((n.trim().parse().ok()?, errno))
}

/// Does one filesystem step `op`, counted; see the module documentation for the hooks.
pub fn step<T>(op: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let n = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    let hooks = hooks();
    if let Some((at, errno)) = hooks.fail_io {
        if at == n {
            return Err(std::io::Error::from_raw_os_error(errno));
        }
    }
    let result = op();
    if hooks.fail_after == Some(n) {
        die();
    }
    result
}

/// How many steps this process has taken.
pub fn steps_taken() -> u64 {
    STEPS.load(Ordering::SeqCst)
}

/// Whether `FIXER_COUNT_STEPS` asks for the count.
pub fn count_requested() -> bool {
    std::env::var_os("FIXER_COUNT_STEPS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Ends the process at once, as a kill would.
fn die() -> ! {
    #[cfg(unix)]
    // SAFETY: `_exit` takes an integer and never returns; skipping every destructor and
    // buffer is the point.
    unsafe {
        libc::_exit(137)
    }
    #[cfg(not(unix))]
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_io_specs() {
        assert_eq!(parse_fail_io("3:enospc"), Some((3, libc::ENOSPC)));
        assert_eq!(parse_fail_io(" 12 : EACCES"), Some((12, libc::EACCES)));
        assert_eq!(parse_fail_io("3"), None);
        assert_eq!(parse_fail_io("x:eio"), None);
        assert_eq!(parse_fail_io("3:enoent"), None);
    }
}
