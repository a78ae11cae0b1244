//! Running the real `connector` binary against the local stack (`.local/stack.env`, or
//! `STACK_ENV`), for the operations-command tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Command, Output};

use serde_json::Value;

/// `connector --env-file <stack.env> <args…>`.
pub fn connector(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connector"))
        .arg("--env-file")
        .arg(connector_tests::stack_env_path())
        .args(args)
        .output()
        .expect("the connector binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `args` and returns stdout after checking the command succeeded.
pub fn text(args: &[&str]) -> String {
    let output = connector(args);
    assert!(
        output.status.success(),
        "connector {args:?} failed: {}",
        stderr(&output)
    );
    stdout(&output)
}

/// Runs `args` (which include `--json`) and returns the one JSON document it printed.
pub fn json(args: &[&str]) -> Value {
    let out = text(args);
    assert_eq!(
        out.trim_end().lines().count(),
        1,
        "--json prints one line: {out}"
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Exit 1, nothing on stdout, exactly one `error: …` line on stderr; returns that line.
pub fn single_error_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "stdout: {}", stdout(output));
    assert!(stdout(output).is_empty(), "stdout: {}", stdout(output));
    let err = stderr(output);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "stderr must be one line: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    lines[0].to_string()
}
