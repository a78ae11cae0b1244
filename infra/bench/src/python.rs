//! The vendor-style comparison: `infra/bench/python/list_packages.py` (Python 3.11 + boto3) run under
//! the same runtime-API stub, its init time and warm latency measured beside ours.

use std::path::PathBuf;
use std::process::Command;

pub const LABEL: &str = "python list-packages";
/// Relative to the repository root.
pub const SCRIPT: &str = "infra/bench/python/list_packages.py";

/// The real interpreter behind `BENCH_PYTHON` (default `python3`), if it can import boto3.
///
/// Resolved through `sys.executable` so a pyenv shim (a shell script) is not timed as part of
/// Python's init.
pub fn interpreter() -> Option<PathBuf> {
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args(["-c", "import sys, boto3; print(sys.executable)"])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "bench: {python} cannot import boto3; the Python comparison is skipped ({})",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return None;
    }
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_python_baseline_is_where_the_harness_looks() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert!(root.join(super::SCRIPT).is_file(), "{}", super::SCRIPT);
    }
}
