//! Random bytes from the operating system.

/// `N` random bytes. The operating system's generator does not fail on the systems the
/// server runs on; if it ever did, serving on with predictable ids would be worse than
/// stopping, so this panics with the reason.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Err(e) = getrandom::fill(&mut out) {
        panic!("the operating system's random generator failed: {e}");
    }
    out
}

/// An id: 16 random bytes as hex.
pub(crate) fn id() -> String {
    hex::encode(bytes::<16>())
}
