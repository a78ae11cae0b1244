//! The command line. Parsing only; what each command does lives in its own module.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use connector::ids::{CompanyId, IntegrationId};
use connector::sr::partner::ConsentDisplayMode;
use connector::store::CompanyStatus;

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

    /// List, inspect and disable connected SmartRecruiters companies.
    ///
    /// Reads TABLE_NAME, SECRET_PREFIX (show, disable), and the AWS region, credentials and
    /// AWS_ENDPOINT_URL the AWS SDK reads.
    #[command(subcommand)]
    Companies(CompaniesCommand),

    /// Inspect orders and re-send their results to SmartRecruiters.
    ///
    /// Reads TABLE_NAME, RESULTS_QUEUE_URL (replay), and the AWS settings.
    #[command(subcommand)]
    Orders(OrdersCommand),

    /// Erase or export one candidate's personal data (README "Personal data").
    ///
    /// Reads TABLE_NAME, NOTIFICATIONS_QUEUE_URL (the candidate.erased webhook; without it the
    /// event is only listable), and the AWS settings.
    #[command(subcommand)]
    Candidates(CandidatesCommand),

    /// Look at and redrive the results dead-letter queue (results that failed 10 deliveries).
    ///
    /// Reads RESULTS_DLQ_URL (the stack output ResultsDeadLetterQueueUrl), RESULTS_QUEUE_URL
    /// (redrive), and the AWS settings.
    #[command(subcommand)]
    Dlq(DlqCommand),

    /// Manage the keys the vendor platform presents to the vendor API: the admin key, and keys
    /// that reach one integration only.
    ///
    /// Reads TABLE_NAME, VENDOR_API_KEY_SECRET_ID (rotate; the stack output VendorApiKeySecretId)
    /// and the AWS settings.
    #[command(subcommand)]
    VendorKey(VendorKeyCommand),
}

/// `--json`: one JSON document on stdout instead of text.
#[derive(Debug, Clone, Copy, Args)]
pub struct Output {
    /// Print one JSON document on stdout instead of text (for scripts).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CompaniesCommand {
    /// Every company: id, integration, status and last update (scans the table).
    List {
        /// Only companies with this status.
        #[arg(long, value_enum, ignore_case = true, value_name = "STATUS")]
        status: Option<StatusArg>,
        #[command(flatten)]
        output: Output,
    },
    /// One company's record, whether its Secrets Manager secret exists (the value is never
    /// read) and how many access tokens are live.
    Show {
        /// The SmartRecruiters company id.
        #[arg(value_name = "COMPANY_ID")]
        company_id: CompanyId,
        #[command(flatten)]
        output: Output,
    },
    /// Disables a company exactly as SmartRecruiters' disable call does: status DISABLED, its
    /// client record deleted and access tokens revoked (SR's tokens stop working at once), its
    /// secret scheduled for deletion after a 30-day recovery window, and a company.disabled
    /// event for the vendor.
    ///
    /// The company connects again through the consent page (which restores the secret). Orders
    /// stay readable. Repeating it is harmless.
    Disable {
        /// The SmartRecruiters company id.
        #[arg(value_name = "COMPANY_ID")]
        company_id: CompanyId,
        #[command(flatten)]
        output: Output,
    },
    /// Rewrites the secrets of companies connected before secrets kept only the inbound
    /// client's digest: the clear inbound secret goes (and the previous version that held it
    /// loses its AWSPREVIOUS label). Run it once after upgrading; repeating it is harmless.
    MigrateSecrets {
        #[command(flatten)]
        output: Output,
    },
}

/// `--status` values, spelled as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    #[value(name = "ACTIVE")]
    Active,
    #[value(name = "DISABLED")]
    Disabled,
}

impl From<StatusArg> for CompanyStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Active => CompanyStatus::Active,
            StatusArg::Disabled => CompanyStatus::Disabled,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// One order: the package, its latest result, every submission and the delivery history.
    Show {
        /// SmartRecruiters' order id.
        #[arg(value_name = "ORDER_ID")]
        order_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Sends the order's latest result to SmartRecruiters again: queues its current result
    /// version on the results queue, and the publisher PATCHes it like any other result.
    ///
    /// Refused when the order has no result yet.
    Replay {
        /// SmartRecruiters' order id.
        #[arg(value_name = "ORDER_ID")]
        order_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Announces the order again: queues its enrichment and the vendor's order.created, which
    /// the table's stream does for every new order. For the orders the order stream's failure
    /// queue names (OrderStreamFailureQueueAlarm); harmless for an order already announced.
    ///
    /// Refused for an unknown or erased order.
    Announce {
        /// SmartRecruiters' order id.
        #[arg(value_name = "ORDER_ID")]
        order_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Erases the order's personal data (candidate, requester, fields, enrichment, result
    /// details, submissions' bodies, files, events), keeping its non-personal skeleton; a
    /// result still queued is not delivered. Safe to repeat (then every count is zero).
    ///
    /// Reads NOTIFICATIONS_QUEUE_URL for the candidate.erased webhook.
    Erase {
        /// SmartRecruiters' order id.
        #[arg(value_name = "ORDER_ID")]
        order_id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// Which candidate: `--candidate-id` or `--email`, in one integration.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("candidate").required(true).args(["candidate_id", "email"])))]
pub struct CandidateArgs {
    /// The integration (organisation) the candidate's orders belong to.
    #[arg(long, value_name = "INTEGRATION_ID")]
    pub integration: IntegrationId,
    /// SmartRecruiters' candidate id.
    #[arg(long, value_name = "ID")]
    pub candidate_id: Option<String>,
    /// The candidate's e-mail address (case-insensitive; also matched on the enrichment).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CandidatesCommand {
    /// Erases every order of the candidate in the integration, as the vendor API's
    /// POST /assessment/candidates/erase does; prints what was erased, per kind.
    Erase {
        #[command(flatten)]
        candidate: CandidateArgs,
        #[command(flatten)]
        output: Output,
    },
    /// Prints everything held for the candidate as one JSON document (orders with their
    /// submissions and delivery attempts, file records, events), for an access request.
    Export {
        #[command(flatten)]
        candidate: CandidateArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Shows messages of the dead-letter queue: id, receive count, sent time and body.
    ///
    /// Messages stay in the queue: they are received for a moment and made visible again at
    /// once (which counts as one more receive).
    List {
        /// Show at most N messages.
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        max: u32,
        #[command(flatten)]
        output: Output,
    },
    /// Moves messages from the dead-letter queue back to the results queue (same body; deleted
    /// from the dead-letter queue only once sent), so the publisher delivers them again.
    ///
    /// Moves every message unless --max is given. Fix the cause first (SR outage, company
    /// credentials), or the messages return after another 10 failed deliveries.
    Redrive {
        /// Move at most N messages.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        max: Option<u32>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum VendorKeyCommand {
    /// Generates a new random admin key (48 letters and digits), stores it in the secret and
    /// prints it once: hand it to the vendor platform.
    ///
    /// The vendor API accepts the new key and refuses the previous one at once.
    Rotate {
        #[command(flatten)]
        output: Output,
    },
    /// Creates a key that reaches one integration only (any other X-Integration-Id is a 403)
    /// and prints it once. Only its digest is stored.
    Create {
        /// The integration (the vendor API's X-Integration-Id) the key reaches.
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: IntegrationId,
        /// A note of what the key is for (shown by `list`).
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// The integration's keys (ids, labels, when created and revoked; never the keys).
    List {
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: IntegrationId,
        #[command(flatten)]
        output: Output,
    },
    /// Revokes a key of the integration: refused by the vendor API at once.
    Revoke {
        /// The key's id (from `create` or `list`).
        #[arg(value_name = "KEY_ID")]
        key_id: String,
        #[arg(long, value_name = "INTEGRATION_ID")]
        integration: IntegrationId,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// Base URL of the deployed HTTP API (stack output ApiBaseUrl), e.g.
    /// `https://abc123.execute-api.eu-west-1.amazonaws.com`
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
            other => panic!("not configure: {other:?}"),
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

    #[test]
    fn operations_subcommands_parse() {
        match parse(&["companies", "list", "--status", "disabled", "--json"])
            .unwrap()
            .command
        {
            Command::Companies(CompaniesCommand::List { status, output }) => {
                assert_eq!(status, Some(StatusArg::Disabled));
                assert!(output.json);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["orders", "replay", "o-1"]).unwrap().command {
            Command::Orders(OrdersCommand::Replay { order_id, output }) => {
                assert_eq!(order_id, "o-1");
                assert!(!output.json);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dlq", "list"]).unwrap().command {
            Command::Dlq(DlqCommand::List { max, .. }) => assert_eq!(max, 10),
            other => panic!("{other:?}"),
        }
        match parse(&["dlq", "redrive", "--max", "3", "--env-file", "x.env"]).unwrap() {
            Cli {
                env_file,
                command: Command::Dlq(DlqCommand::Redrive { max, .. }),
            } => {
                assert_eq!(max, Some(3));
                assert_eq!(env_file, Some(PathBuf::from("x.env")));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["vendor-key", "rotate", "--json"]).unwrap().command,
            Command::VendorKey(VendorKeyCommand::Rotate { output }) if output.json
        ));
        assert!(matches!(
            parse(&["vendor-key", "revoke", "k1", "--integration", "org"]).unwrap().command,
            Command::VendorKey(VendorKeyCommand::Revoke { key_id, integration, .. })
                if key_id == "k1" && integration == "org"
        ));
        assert_eq!(
            parse(&["vendor-key", "create"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn operations_arguments_are_checked() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(
            kind(&["companies", "show"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["companies", "list", "--status", "GONE"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind(&["dlq", "list", "--max", "0"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["dlq", "redrive", "--max", "-1"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind(&["orders"]),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }
}
