//! `--env-file`: `KEY=VALUE` lines loaded into the process environment, so an operator can point
//! the CLI at the local stack (`.local/stack.env`) or a saved deployment environment.

use std::path::Path;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error("cannot read env file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("env file {path}, line {line}: expected KEY=VALUE")]
    Syntax { path: String, line: usize },
}

/// Parses a dotenv file with `dotenvy`: blank lines and `#` comments skipped, an `export `
/// prefix allowed (shell-sourceable files), single-quoted values literal, double-quoted values
/// with backslash escapes — the quoting `local_stack.py` writes for cargo lambda's parser.
pub fn parse(text: &str, path: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    dotenvy::from_read_iter(text.as_bytes())
        .map(|pair| {
            pair.map_err(|e| match e {
                // The line number, not the line: a value may be a secret.
                dotenvy::Error::LineParse(line, _) => EnvFileError::Syntax {
                    path: path.to_string(),
                    line: line_number(text, &line),
                },
                other => EnvFileError::Read {
                    path: path.to_string(),
                    reason: other.to_string(),
                },
            })
        })
        .collect()
}

/// 1-based number of the line where `logical` (as dotenvy reports it) starts.
fn line_number(text: &str, logical: &str) -> usize {
    let first = logical.lines().next().unwrap_or_default().trim_end();
    text.lines()
        .position(|l| l.trim_end() == first)
        .map_or(0, |i| i + 1)
}

/// Reads `path` and sets every pair in the process environment; the file wins over variables
/// already set, because naming the file is the more explicit choice.
///
/// Must run before any other thread exists (the CLI calls it before building its runtime).
pub fn load(path: &Path) -> Result<(), EnvFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EnvFileError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    for (key, value) in parse(&text, &shown)? {
        std::env::set_var(key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text, "test.env").unwrap()
    }

    #[test]
    fn reads_pairs_and_skips_comments_and_blank_lines() {
        let text = "# the local stack\n\nSR_SIM_URL=http://127.0.0.1:5310\n  TABLE_NAME = t \n";
        assert_eq!(
            pairs(text),
            vec![
                ("SR_SIM_URL".into(), "http://127.0.0.1:5310".into()),
                ("TABLE_NAME".into(), "t".into()),
            ]
        );
    }

    /// Every form `local_stack.py`'s `env_line` writes reads back as the value it was given.
    #[test]
    fn reads_what_the_local_stack_writes() {
        let text = "A=http://x:1/a?b\nB='info,connector=debug'\nC='two words'\nD=\"it's\"\nE=\nF=a,b.c,127.0.0.1\nG='p$ss\\w'\n";
        let got = pairs(text);
        let values: Vec<&str> = got.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                "http://x:1/a?b",
                "info,connector=debug",
                "two words",
                "it's",
                "",
                "a,b.c,127.0.0.1",
                "p$ss\\w"
            ]
        );
    }

    #[test]
    fn keeps_equals_signs_in_values_and_allows_export() {
        assert_eq!(
            pairs("export URL=http://h/p?a=b&c=d"),
            vec![("URL".into(), "http://h/p?a=b&c=d".into())]
        );
    }

    #[test]
    fn a_line_without_key_value_is_an_error_naming_the_line() {
        let err = parse("A=1\nnot a pair\n", "stack.env").unwrap_err();
        assert_eq!(
            err.to_string(),
            "env file stack.env, line 2: expected KEY=VALUE"
        );
        assert!(parse("=value", "x").is_err());
        assert!(parse("A='unterminated\n", "x").is_err());
    }

    #[test]
    fn a_missing_file_is_reported() {
        let err = load(Path::new("/nonexistent/stack.env")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read env file /nonexistent/stack.env: "));
    }
}
