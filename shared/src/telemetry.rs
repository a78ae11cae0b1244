//! Structured JSON logs, one line per event, at the level `RUST_LOG` names (the template's
//! `LogLevel`: error, warn, info, debug or trace; default info).
//!
//! The code never hands a secret, token or Authorization header to `tracing` in the first place;
//! as a second line of defence every log line passes through [`redact`], which blanks bearer
//! credentials, client secrets, connect and vendor keys, request bodies and e-mail addresses
//! (candidate PII) before it reaches CloudWatch.
//!
//! A line carries the Lambda request id (`span.requestId`) and `company_id` / `order_id` wherever
//! they are known:
//!
//! ```json
//! {"timestamp":"…","level":"INFO","message":"result delivered to SmartRecruiters","order_id":"54bc…","company_id":"acme","version":2,"sr_status":200,"span":{"requestId":"8ac9…","name":"Lambda runtime invoke"}}
//! ```
//!
//! The level is the connector's own code's only: the Lambda runtime (which logs every raw event
//! at trace), the AWS SDK and the HTTP clients stay at `info` at most, whatever it says. The local
//! stack runs at `trace` (`LOCAL_LOG_LEVEL`), and `tests/tests/logs.rs` runs the whole spine,
//! connects a company through the consent page over HTTP and asserts that none of the secrets it
//! used (both credential pairs, the vendor key, the partner master secret, an issued access token,
//! a connect key, the base64 form bodies of the consent and token requests, the candidate's and
//! requester's e-mails) appears in the functions' output.

use std::io::{self, Write};
use std::str::FromStr;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The levels `LogLevel` (`RUST_LOG`) may take.
pub const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

pub fn init() {
    let requested = std::env::var("RUST_LOG").ok();
    let (filter, refused) = filter_for(requested.as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(RedactingStdout)
        .try_init();
    if refused {
        tracing::warn!(
            allowed = ?LEVELS,
            "RUST_LOG is not one of the allowed levels; logging at info"
        );
    }
}

/// The filter for `RUST_LOG` = one of [`LEVELS`]: that level for the connector's own code, and
/// at most info for every other crate — the Lambda runtime logs each raw event (bodies, headers)
/// at trace, the AWS SDK and the HTTP stacks log requests and answers at debug and trace.
/// Anything else (a directive list, a typo) gives info, and `true` to say it was refused.
pub fn filter_for(requested: Option<&str>) -> (EnvFilter, bool) {
    let requested = requested.map(str::trim).filter(|r| !r.is_empty());
    let level = match requested {
        None => Some(LevelFilter::INFO),
        Some(r) if LEVELS.contains(&r.to_ascii_lowercase().as_str()) => {
            LevelFilter::from_str(r).ok()
        }
        Some(_) => None,
    };
    let refused = level.is_none();
    let ours = level.unwrap_or(LevelFilter::INFO);
    let others = ours.min(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .parse(format!("{others},connector={ours}"))
        .expect("level directives always parse");
    (filter, refused)
}

const REDACTED: &str = "[redacted]";

/// A deserializer's message without the strings it quotes (serde writes `string "Ada"`, with
/// `\"` inside): the error is logged, and a malformed item may hold personal data. Names in
/// backticks (a missing field, an unknown variant) stay: they say what is wrong.
pub fn without_quoted_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in message.chars() {
        if !quoted {
            out.push(c);
            quoted = c == '"';
        } else if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            out.push_str("…\"");
            quoted = false;
        }
    }
    if quoted {
        out.push('…');
    }
    out
}

/// Blanks what must never be logged: `Bearer <credential>`, `Basic <credential>`,
/// `client_secret=<…>`, connect keys (`ck_…`, `connect_key=…`) and vendor API keys (`vk_…`),
/// the value of every `"body"` field (a request or event body, which may be a base64-encoded
/// form carrying any of those), and e-mail addresses.
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
            "client_secret%3D",
            "\"client_secret\":\"",
            "clientSecret\":\"",
            "connect_key=",
            "connect_key%3D",
            "\"connect_key\":\"",
        ],
        |c| c != '"' && c != '&' && c != '\\' && !c.is_whitespace(),
    );
    out = redact_prefixed_keys(&out, &["ck_", "vk_"]);
    out = redact_bodies(&out);
    redact_emails(&out)
}

/// `ck_<credential>` and `vk_<credential>` tokens (20+ credential characters, not inside a word
/// such as `clock_skew`) → `ck_[redacted]`.
fn redact_prefixed_keys(line: &str, prefixes: &[&str]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some((at, prefix)) = prefixes
        .iter()
        .filter_map(|p| rest.find(p).map(|at| (at, *p)))
        .min_by_key(|(at, _)| *at)
    {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
        let after = &rest[at + prefix.len()..];
        let run = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(after.len());
        out.push_str(&rest[..at + prefix.len()]);
        if starts_word && run >= 20 {
            out.push_str(REDACTED);
            rest = &after[run..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The JSON string value of each `"body"` field → `"[redacted]"`, also when the field sits in
/// JSON that is itself a string value (`\"body\":\"…\"`, e.g. a raw Lambda event logged as text).
fn redact_bodies(line: &str) -> String {
    let mut out = redact_json_strings(line, "\"body\":\"", "\"");
    out = redact_json_strings(&out, "\\\"body\\\":\\\"", "\\\"");
    out
}

/// Replaces what follows each `marker` up to the first `end` not escaped by a backslash.
fn redact_json_strings(line: &str, marker: &str, end: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        let value = &rest[at + marker.len()..];
        let mut close = None;
        let mut escaped = false;
        for (i, c) in value.char_indices() {
            if value[i..].starts_with(end) && !escaped {
                close = Some(i);
                break;
            }
            escaped = c == '\\' && !escaped;
        }
        let close = close.unwrap_or(value.len());
        if close > 0 {
            out.push_str(REDACTED);
        }
        rest = &value[close..];
    }
    out.push_str(rest);
    out
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
    use super::{filter_for, redact, LEVELS};

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
    fn connect_and_vendor_keys_are_blanked_but_not_words_that_contain_their_prefix() {
        assert_eq!(
            redact("used ck_4k9Qe0bW2nX7mP1sV8rT3yL6aaaa and vk_0123456789abcdef_ABCDEFGHIJ"),
            "used ck_[redacted] and vk_[redacted]"
        );
        assert_eq!(
            redact("company_id=x&connect_key=ck_short&step=key"),
            "company_id=x&connect_key=[redacted]&step=key"
        );
        let line = r#"{"message":"clock_skew_correction","client":"ck_x"}"#;
        assert_eq!(redact(line), line);
    }

    #[test]
    fn bodies_are_blanked_also_inside_a_logged_event() {
        assert_eq!(
            redact(r#"{"body":"Z3JhbnRfdHlwZT1jbGllbnRfY3JlZGVudGlhbHM=","n":1}"#),
            r#"{"body":"[redacted]","n":1}"#
        );
        let event = r#"{"message":"event","payload":"{\"rawPath\":\"/x\",\"body\":\"Y29ubmVjdF9rZXk9Y2tfeA==\",\"isBase64Encoded\":true}"}"#;
        assert_eq!(
            redact(event),
            r#"{"message":"event","payload":"{\"rawPath\":\"/x\",\"body\":\"[redacted]\",\"isBase64Encoded\":true}"}"#
        );
        assert_eq!(
            redact(r#"{"body":"{\"a\":\"b\"}","n":1}"#),
            r#"{"body":"[redacted]","n":1}"#
        );
    }

    #[test]
    fn log_levels_are_one_of_five_and_other_crates_stay_at_info() {
        let directives = |requested: Option<&str>| {
            let (filter, refused) = filter_for(requested);
            let mut directives: Vec<String> =
                filter.to_string().split(',').map(str::to_string).collect();
            directives.sort();
            (directives, refused)
        };
        for (level, others) in [
            ("error", "error"),
            ("warn", "warn"),
            ("info", "info"),
            ("debug", "info"),
            ("trace", "info"),
        ] {
            assert!(LEVELS.contains(&level));
            assert_eq!(
                directives(Some(level)),
                (
                    vec![format!("connector={level}"), others.to_string()],
                    false
                )
            );
        }
        let refused = directives(Some("trace,lambda_runtime=trace"));
        assert_eq!(
            refused,
            (vec!["connector=info".into(), "info".into()], true)
        );
        assert!(!directives(None).1);
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        let line = r#"{"level":"INFO","message":"order accepted","order_id":"0b3f-11","company_id":"acme"}"#;
        assert_eq!(redact(line), line);
    }
}
