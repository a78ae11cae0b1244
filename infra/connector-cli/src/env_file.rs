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

/// Parses `KEY=VALUE` lines. Blank lines and `#` comments are skipped, an `export ` prefix is
/// allowed (shell-sourceable files), and one pair of matching single or double quotes around the
/// value is removed, as `local_stack.py` quotes values for cargo lambda's parser.
pub fn parse(text: &str, path: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut pairs = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let syntax = || EnvFileError::Syntax {
            path: path.to_string(),
            line: index + 1,
        };
        let (key, value) = line.split_once('=').ok_or_else(syntax)?;
        let key = key.trim();
        if key.is_empty() || key.chars().any(|c| c.is_whitespace()) {
            return Err(syntax());
        }
        pairs.push((key.to_string(), unquote(value.trim()).to_string()));
    }
    Ok(pairs)
}

fn unquote(value: &str) -> &str {
    let quoted = value.len() >= 2
        && ((value.starts_with('\'') && value.ends_with('\''))
            || (value.starts_with('"') && value.ends_with('"')));
    if quoted {
        &value[1..value.len() - 1]
    } else {
        value
    }
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

    #[test]
    fn strips_one_pair_of_matching_quotes() {
        let text = "A='x y'\nB=\"a=b\"\nC=\"'inner'\"\nD='unbalanced\nE=''\nF=it's\n";
        let got = pairs(text);
        assert_eq!(got[0].1, "x y");
        assert_eq!(got[1].1, "a=b");
        assert_eq!(got[2].1, "'inner'");
        assert_eq!(got[3].1, "'unbalanced");
        assert_eq!(got[4].1, "");
        assert_eq!(got[5].1, "it's");
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
    }

    #[test]
    fn a_missing_file_is_reported() {
        let err = load(Path::new("/nonexistent/stack.env")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read env file /nonexistent/stack.env: "));
    }
}
