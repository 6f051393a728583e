//! Report (stub).
use crate::BenchError;
/// Writes.
pub fn write(
    _: &std::path::Path,
    _: &std::path::Path,
    _: &std::path::Path,
    _: &std::path::Path,
    _: Option<&std::path::Path>,
) -> Result<(), BenchError> {
    todo!()
}
