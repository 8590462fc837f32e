//! A guard for tests that run a nested cargo.
//!
//! Cargo learns about the target by running `rustc -` with `/dev/null` as its stdin. On some
//! machines `/dev/null` is a regular file that build scripts have written into, and rustc then
//! compiles that text and the nested cargo fails before it builds anything. `.ci/run`
//! recreates the device; where it could not, this empties the file before each nested cargo.

/// Empties `/dev/null` when it is a regular file with content (and says so on stderr).
pub fn empty_if_regular_file() {
    let path = std::path::Path::new("/dev/null");
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.file_type().is_file() && meta.len() > 0 {
        eprintln!(
            "note: /dev/null is a regular file of {} bytes; emptying it so that cargo's `rustc -` probe reads nothing",
            meta.len()
        );
        if let Err(e) = std::fs::File::create(path) {
            eprintln!("note: could not empty /dev/null: {e}");
        }
    }
}
