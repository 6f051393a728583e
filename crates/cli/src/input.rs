//! Files the user names on the command line: regular files only, at most [`MAX_INPUT_BYTES`], so a FIFO, a
//! device (`/dev/zero`) or a huge file is refused by name instead of hanging or filling memory.

use std::{io::Read, path::Path};

use crate::CliError;

/// The most an input file (a grant, an authorization, a restore file) may hold.
pub(crate) const MAX_INPUT_BYTES: u64 = 1 << 20;

/// Reads `path`, a `what` (e.g. "grant file"), as text.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<String, CliError> {
    let bad = |why: String| CliError::InvalidInput(format!("{what} {}: {why}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(bad("not a regular file (a directory, FIFO or device can't be read as input)".into()));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(bad(format!(
            "{} bytes, above the {MAX_INPUT_BYTES}-byte limit for input files",
            meta.len()
        )));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(bad(format!("grew past the {MAX_INPUT_BYTES}-byte limit while being read")));
    }
    Ok(text)
}

/// `input` is either the path of a file to read ([`read_file`]) or the text itself. Text that looks like a
/// path (it has a `/` or ends in `.json`) but names nothing is an error naming the file, not a parse error.
pub(crate) fn file_or_text(input: &str, what: &str) -> Result<String, CliError> {
    let path = Path::new(input);
    if input.len() < 4096 && std::fs::symlink_metadata(path).is_ok() {
        return read_file(path, what);
    }
    let literal = input.trim_start().starts_with(['{', '0']) || input.starts_with("warrant1");
    if !literal && (input.contains('/') || input.ends_with(".json")) {
        return Err(CliError::InvalidInput(format!("{what} {input}: no such file")));
    }
    Ok(input.to_owned())
}
