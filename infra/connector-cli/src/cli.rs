//! The command line. Parsing only; what each command does lives in its own module.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use connector::sr::partner::ConsentDisplayMode;

#[derive(Debug, Parser)]
#[command(
    name = "connector",
    version,
    about = "Operator tools for the SmartRecruiters assessment-partner connector",
    propagate_version = true
)]
pub struct Cli {
    /// Load KEY=VALUE lines from FILE into the environment before anything else (values
    /// override variables already set; one pair of surrounding quotes is stripped).
    /// The local stack's `.local/stack.env` works as is.
    #[arg(long, value_name = "FILE", global = true)]
    pub env_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register the connector's URLs and settings with SmartRecruiters
    /// (PUT /partner/configuration with the partner master credential).
    ///
    /// Safe to repeat: SR replaces the whole configuration each time.
    ///
    /// Reads PARTNER_CREDENTIAL_SECRET_ID (unless the stack outputs name the secret),
    /// SR_API_BASE_URL and SR_TOKEN_URL (default: SR production), ALLOW_INSECURE_SR_URLS,
    /// and the AWS region, credentials and AWS_ENDPOINT_URL the AWS SDK reads.
    #[command(group(
        ArgGroup::new("urls")
            .required(true)
            .args(["api_base_url", "stack_outputs", "local_prefix"])
    ))]
    Configure(ConfigureArgs),
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// Base URL of the deployed HTTP API (stack output ApiBaseUrl), e.g.
    /// https://abc123.execute-api.eu-west-1.amazonaws.com
    #[arg(long, value_name = "URL")]
    pub api_base_url: Option<String>,

    /// JSON printed by `aws cloudformation describe-stacks --query 'Stacks[0].Outputs'`;
    /// uses ApiBaseUrl and, when present, PartnerCredentialSecretId.
    #[arg(long, value_name = "FILE")]
    pub stack_outputs: Option<PathBuf>,

    /// URL prefix of `cargo lambda watch` (local stack), e.g.
    /// http://127.0.0.1:9000/lambda-url
    #[arg(long, value_name = "URL")]
    pub local_prefix: Option<String>,

    /// Vendor settings as JSON: consent_display_mode (POPUP|REDIRECT), inline_enabled,
    /// fields (at most 5 {id, name, description}), supported_assessment_types.
    /// Without it: popup consent, no inline orders, no fields, every assessment type.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,

    /// How SR opens the consent page; overrides the settings file.
    #[arg(long, value_enum, ignore_case = true, value_name = "MODE")]
    pub display_mode: Option<DisplayMode>,

    /// Also register the inline order URL (inline assessments); overrides the settings file.
    #[arg(long)]
    pub inline: bool,

    /// Print the configuration that would be sent and stop; reads no secret and calls nobody.
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object on stdout instead of text: {"status": 200, "configuration": …}
    /// (with --dry-run: {"dry_run": true, "configuration": …}).
    #[arg(long)]
    pub json: bool,
}

/// `--display-mode` values, spelled as SR spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DisplayMode {
    /// SR opens the consent page in a popup window.
    #[value(name = "POPUP")]
    Popup,
    /// SR redirects the user to the consent page.
    #[value(name = "REDIRECT")]
    Redirect,
}

impl From<DisplayMode> for ConsentDisplayMode {
    fn from(mode: DisplayMode) -> Self {
        match mode {
            DisplayMode::Popup => ConsentDisplayMode::Popup,
            DisplayMode::Redirect => ConsentDisplayMode::Redirect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("connector").chain(args.iter().copied()))
    }

    fn configure(args: &[&str]) -> ConfigureArgs {
        let mut all = vec!["configure"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Configure(args) => args,
        }
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exactly_one_url_source_is_required() {
        let err = parse(&["configure"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        let err = parse(&[
            "configure",
            "--api-base-url",
            "https://x.example.com",
            "--local-prefix",
            "http://127.0.0.1:9000/lambda-url",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        let err = parse(&[
            "configure",
            "--stack-outputs",
            "o.json",
            "--api-base-url",
            "https://x.example.com",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn flags_are_read() {
        let args = configure(&[
            "--local-prefix",
            "http://127.0.0.1:9000/lambda-url",
            "--display-mode",
            "redirect",
            "--inline",
            "--dry-run",
            "--json",
        ]);
        assert_eq!(args.display_mode, Some(DisplayMode::Redirect));
        assert!(args.inline && args.dry_run && args.json);
        assert_eq!(args.settings, None);
    }

    #[test]
    fn env_file_goes_before_or_after_the_subcommand() {
        let before = parse(&[
            "--env-file",
            "a.env",
            "configure",
            "--api-base-url",
            "https://x",
        ]);
        let after = parse(&[
            "configure",
            "--api-base-url",
            "https://x",
            "--env-file",
            "a.env",
        ]);
        for cli in [before.unwrap(), after.unwrap()] {
            assert_eq!(cli.env_file, Some(PathBuf::from("a.env")));
        }
    }

    #[test]
    fn unknown_display_modes_are_refused() {
        let err = parse(&[
            "configure",
            "--api-base-url",
            "https://x",
            "--display-mode",
            "TAB",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }
}
