//! Structured JSON logs, one line per event, filtered by `RUST_LOG` (default `info`).
//!
//! The code never hands a secret, token or Authorization header to `tracing` in the first place;
//! as a second line of defence every log line passes through [`redact`], which blanks bearer
//! credentials and e-mail addresses (candidate PII) before it reaches CloudWatch.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(RedactingStdout)
        .try_init();
}

const REDACTED: &str = "[redacted]";

/// Blanks what must never be logged: `Bearer <credential>`, `Basic <credential>`,
/// `client_secret=<…>` and e-mail addresses.
pub fn redact(line: &str) -> String {
    let mut out = redact_after(
        line,
        &["Bearer ", "bearer ", "Basic ", "basic "],
        is_credential_char,
    );
    out = redact_after(
        &out,
        &[
            "client_secret=",
            "\"client_secret\":\"",
            "clientSecret\":\"",
        ],
        |c| c != '"' && c != '&' && !c.is_whitespace(),
    );
    redact_emails(&out)
}

fn is_credential_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~' | '+' | '/' | '=')
}

/// Replaces the run of `keep`-characters following each marker.
fn redact_after(line: &str, markers: &[&str], keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    loop {
        let next = markers
            .iter()
            .filter_map(|m| rest.find(m).map(|at| (at, m.len())))
            .min_by_key(|(at, _)| *at);
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let end = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        rest = &rest[end..];
    }
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// `name@example.com` → `[redacted]`; a lone `@` or `user@localhost` stays.
fn redact_emails(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut copied = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let mut start = i;
            while start > 0 && is_local_char(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && is_domain_char(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().collect();
            let domain = domain.trim_end_matches('.');
            if start < i && domain.contains('.') && !domain.starts_with('.') {
                out.extend(&chars[copied..start]);
                out.push_str(REDACTED);
                copied = i + 1 + domain.chars().count();
                i = copied;
                continue;
            }
        }
        i += 1;
    }
    out.extend(&chars[copied..]);
    out
}

/// Writes each formatted event (one JSON line) to stdout after [`redact`].
#[derive(Clone, Copy)]
pub struct RedactingStdout;

pub struct RedactingWriter {
    buffer: Vec<u8>,
}

impl<'a> MakeWriter<'a> for RedactingStdout {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { buffer: Vec::new() }
    }
}

impl Write for RedactingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingWriter {
    /// The subscriber writes one whole event per writer, so the line is complete here.
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let line = redact(&String::from_utf8_lossy(&self.buffer));
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(line.as_bytes());
        let _ = stdout.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn bearer_and_basic_credentials_are_blanked() {
        assert_eq!(
            redact(r#"{"authorization":"Bearer abc.DEF_1-2~x=","n":1}"#),
            r#"{"authorization":"Bearer [redacted]","n":1}"#
        );
        assert_eq!(redact("Basic dXNlcjpwYXNz done"), "Basic [redacted] done");
    }

    #[test]
    fn client_secrets_are_blanked() {
        assert_eq!(
            redact("grant_type=client_credentials&client_id=a&client_secret=s3cr3t&x=1"),
            "grant_type=client_credentials&client_id=a&client_secret=[redacted]&x=1"
        );
        assert_eq!(
            redact(r#"{"clientId":"a","clientSecret":"s3cr3t"}"#),
            r#"{"clientId":"a","clientSecret":"[redacted]"}"#
        );
    }

    #[test]
    fn email_addresses_are_blanked() {
        assert_eq!(
            redact(r#"{"message":"sent to ada.l+test@example.co.uk."}"#),
            r#"{"message":"sent to [redacted]."}"#
        );
        assert_eq!(redact("a@b and x@y.z"), "a@b and [redacted]");
        assert_eq!(redact("@ alone, user@localhost"), "@ alone, user@localhost");
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        let line = r#"{"level":"INFO","message":"order accepted","order_id":"0b3f-11","company_id":"acme"}"#;
        assert_eq!(redact(line), line);
    }
}
