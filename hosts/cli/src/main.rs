//! `resource-limits`: the resource-limits admission rule over manifests, natively, for CI.
//!
//! Every object of every manifest is judged by the core as its CREATE would be at admission
//! (`document::evaluate`, the core's entry for what a user hands over, as in the
//! playground), so the verdicts are the policy's.
//!
//! Exit codes: 0 all pass, 1 a violation, 2 bad input or settings.

#[cfg(feature = "audit")]
mod audit;
mod check;
mod fix;
mod junit;
mod manifest;
mod report;
mod settings;
use resource_limits_yaml as yaml;

use clap::{CommandFactory, Parser, Subcommand};
use manifest::{Input, InputError, Source};
use report::{Format, SettingsFormat};
use resource_limits::document::Form;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "resource-limits",
    version,
    about = "Check Kubernetes manifests against the resource-limits admission policy",
    after_help = "Exit codes: 0 all pass, 1 a violation, 2 bad input or settings, or a usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check manifests (files, folders searched recursively for *.yaml, *.yml and *.json,
    /// or - for standard input) as the policy would at admission.
    ///
    /// Folders are walked as git sees them: what .gitignore or .ignore leaves out, and hidden
    /// folders, are not read (a path named here always is). What is not a Kubernetes object
    /// (a compose file, an OpenAPI document, a file of a Helm chart, a Kustomize patch) is
    /// skipped, not an error; -v lists it with the reason. AdmissionReview and
    /// AdmissionRequest documents are judged as the playground judges them.
    #[command(
        after_help = "Exit codes: 0 all pass, 1 a violation, 2 bad input or settings, or a usage error."
    )]
    Check {
        /// The policy settings: JSON or YAML, or a ClusterAdmissionPolicy/AdmissionPolicy
        /// manifest (its spec.settings), or a SpinApp (its settings variable).
        #[arg(long, short, value_name = "FILE")]
        settings: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Format::Human)]
        output: Format,
        /// Also list passing objects, the defaults the policy would add, and what was skipped
        /// (human output).
        #[arg(long, short)]
        verbose: bool,
        /// Count warnings (a memory quantity in milli-units, a violation of a rule whose
        /// enforcement is warn) as violations for the exit code.
        #[arg(long)]
        warnings_as_errors: bool,
        /// Leave out what this glob matches while walking folders (gitignore's syntax,
        /// relative to the current folder: `vendor`, `/deploy/legacy`, `**/*.json`).
        /// Repeatable.
        #[arg(long, value_name = "GLOB", value_parser = manifest::exclude_glob)]
        exclude: Vec<String>,
        /// Skip the objects of this kind (Job, CronJob, ...; case does not matter); they are
        /// counted as skipped. Repeatable.
        #[arg(long, value_name = "KIND")]
        skip_kind: Vec<String>,
        /// Make what would be skipped as not a Kubernetes object (a file of a Helm chart, a
        /// Kustomize patch, a template, a document without apiVersion and kind, a file that
        /// is not YAML) an input error.
        #[arg(long)]
        strict: bool,
        /// Manifests: files, folders, or - for standard input (the default when standard
        /// input is not a terminal).
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Add the defaults the policy would inject (defaultRequest/defaultLimit) to the
    /// manifests in place, keeping comments and formatting.
    #[command(
        after_help = "Exit codes: 0 nothing left failing (and, with --check, nothing to add), 1 a workload still failing or, with --check, a file that would change, 2 bad input or settings, or a usage error."
    )]
    Fix {
        #[arg(long, short, value_name = "FILE")]
        settings: PathBuf,
        /// Show the changes as a unified diff; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write nothing; name each file that would change and exit 1 if any would (for CI:
        /// the committed manifests already carry the defaults).
        #[arg(long)]
        check: bool,
        /// Leave out what this glob matches while walking folders (as for check).
        /// Repeatable.
        #[arg(long, value_name = "GLOB", value_parser = manifest::exclude_glob)]
        exclude: Vec<String>,
        /// Skip the objects of this kind (Job, CronJob, ...; case does not matter): they are
        /// left as they are, and counted as skipped. Repeatable.
        #[arg(long, value_name = "KIND")]
        skip_kind: Vec<String>,
        /// Make what would be skipped as not a Kubernetes object (a file of a Helm chart, a
        /// Kustomize patch, a template, a document without apiVersion and kind, a file that
        /// is not YAML) an input error; a file with an input error is not edited.
        #[arg(long)]
        strict: bool,
        /// Manifests: files, folders, or - (standard input, fixed text on standard output).
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
    /// Serve the policy as an admission webhook over HTTPS (HTTP/1.1 and HTTP/2): POST
    /// /mutate (the MutatingWebhookConfiguration: defaults added by a patch), POST /validate
    /// (the ValidatingWebhookConfiguration: never a patch), GET /healthz, GET /readyz, GET
    /// /metrics (Prometheus).
    ///
    /// The settings, certificate and key files are re-read when they change (a ConfigMap,
    /// cert-manager's Secret); a broken new file keeps the last good one, said on /readyz and
    /// in the log. Logs are JSON lines on standard error: one a refusal at info, nothing for
    /// an admitted review. SIGTERM: /readyz says not ready, new connections are taken for
    /// --shutdown-delay, then in-flight reviews are answered and the server stops.
    #[command(
        after_help = "Exit codes: 0 stopped by SIGTERM or SIGINT, 2 bad settings, certificate or address, or a usage error."
    )]
    Serve {
        /// The policy settings: JSON or YAML, or a ClusterAdmissionPolicy/AdmissionPolicy
        /// manifest (its spec.settings), or a SpinApp (its settings variable).
        #[arg(long, short, value_name = "FILE")]
        settings: PathBuf,
        /// The server's certificate chain (PEM), e.g. tls.crt of a cert-manager Secret.
        #[arg(long, value_name = "FILE")]
        tls_cert_file: PathBuf,
        /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1), e.g. tls.key.
        #[arg(long, value_name = "FILE")]
        tls_private_key_file: PathBuf,
        /// The address and port to listen on.
        #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8443")]
        listen: std::net::SocketAddr,
        /// How often the settings and certificate files are looked at.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = resource_limits_server::parse_duration)]
        reload_interval: std::time::Duration,
        /// How long a client gets for its TLS handshake, its headers, and its body.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = resource_limits_server::parse_duration)]
        read_timeout: std::time::Duration,
        /// After SIGTERM, how long to keep taking new connections (while /readyz says not
        /// ready, so the endpoint leaves the Service first).
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = resource_limits_server::parse_duration)]
        shutdown_delay: std::time::Duration,
        /// Then how long in-flight reviews get to be answered.
        #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = resource_limits_server::parse_duration)]
        shutdown_timeout: std::time::Duration,
        /// The least important log lines written: debug adds one line per admitted review.
        #[arg(long, value_enum, default_value_t = LogLevel::Info)]
        log_level: LogLevel,
        /// Log lines as JSON objects (for a log collector) or as text (for a terminal).
        #[arg(long, value_enum, default_value_t = LogFormat::Json)]
        log_format: LogFormat,
    },
    /// What the policy would do to the workloads of a live cluster (the cluster kubectl
    /// would use): each Pod and workload judged as its CREATE would be, owners reported in
    /// place of the Pods and ReplicaSets they control.
    ///
    /// Refusals are listed one per line as NAMESPACE Kind/NAME: message; an object that lacks
    /// what a default would add is listed as such (protect mode would mutate it, not refuse
    /// it).
    #[cfg(feature = "audit")]
    #[command(
        after_help = "Exit codes: 0 nothing would be refused, 1 something would be refused, 2 the cluster could not be read (the message names the missing permission), invalid settings, or a usage error."
    )]
    Audit {
        /// The policy settings: JSON or YAML, or a ClusterAdmissionPolicy/AdmissionPolicy
        /// manifest (its spec.settings), or a SpinApp (its settings variable).
        #[arg(long, short, value_name = "FILE")]
        settings: PathBuf,
        /// Only this namespace.
        #[arg(
            long,
            short,
            value_name = "NAMESPACE",
            conflicts_with = "all_namespaces"
        )]
        namespace: Option<String>,
        /// Every namespace (the default).
        #[arg(long, short = 'A')]
        all_namespaces: bool,
        /// The kubeconfig file (else KUBECONFIG, ~/.kube/config, or in-cluster credentials).
        #[arg(long, value_name = "FILE")]
        kubeconfig: Option<PathBuf>,
        /// The kubeconfig context (else its current one).
        #[arg(long, value_name = "NAME")]
        context: Option<String>,
        /// Objects per list request.
        #[arg(long, value_name = "N", default_value_t = 500)]
        page_size: u32,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = AuditFormat::Human)]
        output: AuditFormat,
        /// Also list the objects that pass, those skipped, and what each owner counts.
        #[arg(long, short)]
        verbose: bool,
        /// At most this many requests a second, to spare a busy API server: the lists, and
        /// with --report the writes and deletes (0: no limit).
        #[arg(long, value_name = "N", default_value_t = 0)]
        requests_per_second: u32,
        /// Also write the audit into the cluster: one report per audited object (owned by
        /// it, named after the policy and its uid), applied server-side so a rerun updates
        /// it; the policy's reports of earlier runs that this run did not write are deleted.
        /// openreports: openreports.io/v1alpha1 Report (what Kubewarden writes);
        /// policyreport: wgpolicyk8s.io/v1alpha2 PolicyReport.
        #[arg(long, value_enum, value_name = "FORMAT")]
        report: Option<ReportFormat>,
        /// The policy's name in the reports (default: clusterwide-NAME or
        /// namespaced-NAMESPACE-NAME for a Kubewarden policy file, as Kubewarden names them,
        /// else resource-limits).
        #[arg(long, value_name = "NAME", requires = "report")]
        policy_name: Option<String>,
    },
    /// Compile the settings to another form of the policy.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Settings files.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell), generated
    /// from this command line's definition: `resource-limits completions bash >
    /// /etc/bash_completion.d/resource-limits`.
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), generated from this command line's definition:
    /// `resource-limits man > resource-limits.1`, then `man ./resource-limits.1`; a command's
    /// own page (its options) with its name: `resource-limits man check >
    /// resource-limits-check.1`, `resource-limits man settings check`.
    Man {
        /// The command whose page to print (none: the main page).
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
}

/// `serve --log-level`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// `serve --log-format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// The settings as the API server's own admission policies (Kubernetes 1.36+): a
    /// MutatingAdmissionPolicy for the defaults, a ValidatingAdmissionPolicy for the rules that
    /// deny and one for the rules that only warn, each with its binding; a YAML stream for
    /// `kubectl apply -f -`. Settings the policies cannot judge exactly as the webhook does are
    /// refused, naming the setting.
    #[command(
        after_help = "Exit codes: 0 written, 2 invalid settings, settings that cannot be exported, or a usage error."
    )]
    Cel {
        /// The policy settings: JSON or YAML, or a ClusterAdmissionPolicy/AdmissionPolicy
        /// manifest (its spec.settings), or a SpinApp (its settings variable).
        #[arg(long, short, value_name = "FILE")]
        settings: PathBuf,
        /// The policies' name (the validating policy's; the others add -warn and -defaults).
        #[arg(long, value_name = "NAME", default_value = "resource-limits")]
        name: String,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = ExportFormat::Yaml)]
        output: ExportFormat,
    },
}

/// `audit -o`.
#[cfg(feature = "audit")]
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuditFormat {
    /// One line per refusal and per default due, then a summary.
    Human,
    /// Every object's outcome.
    Json,
}

/// `audit --report`.
#[cfg(feature = "audit")]
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    /// openreports.io/v1alpha1 Report.
    Openreports,
    /// wgpolicyk8s.io/v1alpha2 PolicyReport.
    Policyreport,
}

/// `export cel -o`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// A YAML stream, one document per object.
    Yaml,
    /// A JSON List of the objects.
    Json,
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Validate settings: a settings file, a ClusterAdmissionPolicy/AdmissionPolicy manifest
    /// (spec.settings), or a SpinApp (its settings variable).
    Check {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Output format (no SARIF or JUnit here: a settings file is not a finding in code).
        #[arg(long, short, value_enum, default_value_t = SettingsFormat::Human)]
        output: SettingsFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check {
            settings,
            output,
            verbose,
            warnings_as_errors,
            exclude,
            skip_kind,
            strict,
            paths,
        } => {
            let options = check::Options {
                strict,
                skip_kinds: skip_kind,
            };
            run_check(
                &settings,
                output,
                (verbose, warnings_as_errors),
                &options,
                (&paths, &exclude),
            )
        }
        Command::Fix {
            settings,
            dry_run,
            check,
            exclude,
            skip_kind,
            strict,
            paths,
        } => {
            let options = check::Options {
                strict,
                skip_kinds: skip_kind,
            };
            run_fix(&settings, (dry_run, check), &options, (&paths, &exclude))
        }
        Command::Settings {
            command: SettingsCommand::Check { files, output },
        } => run_settings_check(&files, output),
        Command::Serve {
            settings,
            tls_cert_file,
            tls_private_key_file,
            listen,
            reload_interval,
            read_timeout,
            shutdown_delay,
            shutdown_timeout,
            log_level,
            log_format,
        } => {
            let level = match log_level {
                LogLevel::Error => resource_limits_server::LogLevel::Error,
                LogLevel::Warn => resource_limits_server::LogLevel::Warn,
                LogLevel::Info => resource_limits_server::LogLevel::Info,
                LogLevel::Debug => resource_limits_server::LogLevel::Debug,
            };
            resource_limits_server::init_logging(level, log_format == LogFormat::Json);
            let config = resource_limits_server::Config {
                listen,
                reload_interval,
                read_timeout,
                shutdown_delay,
                shutdown_timeout,
                ..resource_limits_server::Config::new(settings, tls_cert_file, tls_private_key_file)
            };
            match resource_limits_server::run(config) {
                Ok(()) => 0,
                Err(e) => {
                    eprint(&format!("resource-limits serve: {e}\n"));
                    2
                }
            }
        }
        #[cfg(feature = "audit")]
        Command::Audit {
            settings,
            namespace,
            all_namespaces: _,
            kubeconfig,
            context,
            page_size,
            output,
            verbose,
            requests_per_second,
            report,
            policy_name,
        } => {
            let options = resource_limits_audit::Options {
                namespace,
                kubeconfig,
                context,
                page_size,
                scope: None,
                progress: None,
                requests_per_second,
                // What to write is known once the settings file is read.
                report: None,
            };
            let report = report.map(|f| {
                let format = match f {
                    ReportFormat::Openreports => resource_limits_audit::report::Format::OpenReports,
                    ReportFormat::Policyreport => {
                        resource_limits_audit::report::Format::PolicyReport
                    }
                };
                (format, policy_name)
            });
            run_audit(&settings, &options, report, output, verbose)
        }
        Command::Export {
            command:
                ExportCommand::Cel {
                    settings,
                    name,
                    output,
                },
        } => run_export_cel(&settings, &name, output),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "resource-limits", &mut out);
            print(&String::from_utf8_lossy(&out));
            0
        }
        Command::Man { command } => man_page(&command),
    };
    ExitCode::from(code)
}

/// `resource-limits man [COMMAND...]`: the page of the command named (its name in the page
/// `resource-limits-check`, as git names its commands' pages).
fn man_page(words: &[String]) -> u8 {
    let mut cmd = Cli::command();
    cmd.build();
    for word in words {
        let Some(sub) = cmd.find_subcommand_mut(word).map(std::mem::take) else {
            usage_error(
                "man",
                &format!("no command {word:?} (see resource-limits --help)"),
            );
        };
        cmd = sub;
    }
    let mut out = Vec::new();
    let source = concat!("resource-limits ", env!("CARGO_PKG_VERSION"));
    match clap_mangen::Man::new(cmd).source(source).render(&mut out) {
        Ok(()) => {
            print(&String::from_utf8_lossy(&out));
            0
        }
        Err(e) => {
            eprint(&format!(
                "resource-limits: cannot write the man page: {e}\n"
            ));
            2
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `audit`: the report on standard output.
#[cfg(feature = "audit")]
fn run_audit(
    settings_path: &std::path::Path,
    options: &resource_limits_audit::Options,
    report: Option<(resource_limits_audit::report::Format, Option<String>)>,
    output: AuditFormat,
    verbose: bool,
) -> u8 {
    let Some(settings) = load_settings(settings_path) else {
        return 2;
    };
    // Settings given as a Kubewarden policy bring its scope: its rules' kinds, its selectors.
    let mut options = options.clone();
    match policy_scope(settings_path) {
        Ok(scope) => {
            options.report = report.map(|(format, name)| {
                resource_limits_audit::report::Reporting::of(format, scope.as_ref(), name)
            });
            options.scope = scope;
        }
        Err(e) => {
            eprint(&format!(
                "resource-limits audit: {}: {e}\n",
                settings_path.display()
            ));
            return 2;
        }
    }
    let bar = audit::progress_bar();
    options.progress = bar.as_ref().map(audit::progress_of);
    let result = resource_limits_audit::run(&settings, &options);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(audit) => {
            match output {
                AuditFormat::Human => print(&audit::human(&audit, verbose)),
                AuditFormat::Json => print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&audit::json(&audit)).unwrap_or_default()
                )),
            }
            audit::exit_code(&audit)
        }
        Err(e) => {
            eprint(&format!("resource-limits audit: {e}\n"));
            2
        }
    }
}

/// The scope of the policy a settings file is, if it is one (its first document).
#[cfg(feature = "audit")]
fn policy_scope(path: &std::path::Path) -> Result<Option<resource_limits_audit::Scope>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let docs = yaml::documents::documents(&text, yaml::documents::Json::AsYaml)
        .map_err(|e| e.to_string())?;
    let Some(first) = docs.into_iter().find_map(|d| d.manifest) else {
        return Ok(None);
    };
    let json: serde_json::Value = serde_json::from_str(&first.json).map_err(|e| e.to_string())?;
    resource_limits_audit::Scope::of_policy(&json)
}

/// `export cel`: the policies on standard output.
fn run_export_cel(settings_path: &std::path::Path, name: &str, output: ExportFormat) -> u8 {
    let Some(settings) = load_settings(settings_path) else {
        return 2;
    };
    match resource_limits::cel::export(&settings, name) {
        Ok(objects) => {
            let text = match output {
                ExportFormat::Yaml => yaml::write::to_yaml_stream(&objects),
                ExportFormat::Json => {
                    let list =
                        serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
                    format!(
                        "{}\n",
                        serde_json::to_string_pretty(&list).unwrap_or_default()
                    )
                }
            };
            print(&text);
            0
        }
        Err(e) => {
            eprint(&format!(
                "resource-limits: {} cannot be exported: {e}\n",
                settings_path.display()
            ));
            2
        }
    }
}

fn load_settings(path: &std::path::Path) -> Option<resource_limits::Settings> {
    match settings::load(path) {
        Ok(s) => Some(s),
        Err(settings::LoadError::Other(e)) => {
            eprint(&format!(
                "resource-limits: invalid settings in {}: {e}\n",
                path.display()
            ));
            None
        }
        Err(settings::LoadError::Problems(lines)) => {
            let mut text = format!("resource-limits: invalid settings in {}:\n", path.display());
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
            eprint(&text);
            None
        }
    }
}

/// The inputs, less the settings file itself (a plain settings file kept beside the
/// manifests is not a manifest).
fn without_settings(inputs: Vec<Input>, settings: &std::path::Path) -> Vec<Input> {
    let Ok(settings) = settings.canonicalize() else {
        return inputs;
    };
    inputs
        .into_iter()
        .filter(|i| match &i.source {
            Source::File(p) => p.canonicalize().ok().as_ref() != Some(&settings),
            Source::Stdin => true,
        })
        .collect()
}

/// A usage error of `check`, as clap words them (`error: ...`, the usage line): exit 2.
fn usage_error(subcommand: &str, message: &str) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let cmd = cli.find_subcommand_mut(subcommand).map(std::mem::take);
    cmd.unwrap_or_else(Cli::command)
        .error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}

/// The inputs and the errors of walking the paths (none given: standard input, unless it is
/// a terminal, which is a usage error).
fn inputs(paths: &[PathBuf], exclude: &[String]) -> (Vec<Input>, Vec<InputError>, bool) {
    use std::io::IsTerminal;
    let implicit_stdin = paths.is_empty();
    if implicit_stdin && std::io::stdin().is_terminal() {
        usage_error(
            "check",
            "no PATH given: name files or folders to check, - for standard input, or pipe manifests in",
        );
    }
    let stdin = [PathBuf::from("-")];
    let paths = if implicit_stdin { &stdin[..] } else { paths };
    // The globs were checked as the arguments were read.
    let exclude = manifest::Exclude::new(exclude)
        .unwrap_or_else(|e| usage_error("check", &format!("invalid value for --exclude: {e}")));
    let (inputs, errors) = manifest::collect(paths, &exclude);
    (inputs, errors, implicit_stdin)
}

fn run_check(
    settings_path: &std::path::Path,
    output: Format,
    (verbose, warnings_as_errors): (bool, bool),
    options: &check::Options,
    (paths, exclude): (&[PathBuf], &[String]),
) -> u8 {
    let (inputs, errors, implicit_stdin) = self::inputs(paths, exclude);
    let Some(settings) = load_settings(settings_path) else {
        return 2;
    };
    let inputs = without_settings(inputs, settings_path);
    let reports = check::check_all(&settings, options, &inputs);
    if implicit_stdin && reports.iter().all(|r| r.blank) {
        usage_error(
            "check",
            "no PATH given and standard input is empty: name files or folders to check, or pipe manifests in (helm template CHART | resource-limits check -s SETTINGS)",
        );
    }
    let hints = report::hints(&reports, &settings_path.display().to_string());
    let code = report::Summary::of(&reports, &errors).exit_code(warnings_as_errors);
    match output {
        Format::Human => {
            let (out, err) = report::human(&reports, &errors, &hints, verbose);
            eprint(&err);
            print(&out);
        }
        Format::Json | Format::Sarif | Format::Junit => {
            for e in reports.iter().flat_map(|r| r.errors.iter()).chain(&errors) {
                eprint(&format!("{e}\n"));
            }
            for h in &hints {
                eprint(&format!("hint: {}\n", h.message));
            }
            let doc = match output {
                Format::Junit => {
                    print(&junit::junit(&reports, &errors, warnings_as_errors));
                    return code as u8;
                }
                Format::Sarif => report::sarif(&reports, &errors, &hints),
                _ => report::json(&reports, &errors, &hints),
            };
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
    }
    code as u8
}

fn run_fix(
    settings_path: &std::path::Path,
    (dry_run, check_only): (bool, bool),
    options: &check::Options,
    (paths, exclude): (&[PathBuf], &[String]),
) -> u8 {
    let Some(settings) = load_settings(settings_path) else {
        return 2;
    };
    let exclude = manifest::Exclude::new(exclude)
        .unwrap_or_else(|e| usage_error("fix", &format!("invalid value for --exclude: {e}")));
    let (inputs, mut errors) = manifest::collect(paths, &exclude);
    let inputs = without_settings(inputs, settings_path);
    let mut reports = Vec::new();
    let mut added = 0;
    let mut files_changed = 0;
    for input in &inputs {
        let src = &input.source;
        let f = fix::fix_source(&settings, options, input);
        let name = f.report.source.clone();
        for o in f
            .report
            .objects
            .iter()
            .filter(|o| o.input == Some(Form::Manifest))
        {
            if let check::Outcome::Passed { defaults, .. } = &o.outcome {
                if f.fixed.is_some() && !check_only {
                    for d in defaults {
                        eprint(&format!(
                            "{name}:{} {}: {}\n",
                            d.line,
                            o.label(),
                            d.describe()
                        ));
                    }
                }
            }
        }
        if let Some(new) = &f.fixed {
            files_changed += 1;
            added += f
                .report
                .objects
                .iter()
                .filter(|o| o.input == Some(Form::Manifest))
                .map(|o| match &o.outcome {
                    check::Outcome::Passed { defaults, .. } => defaults.len(),
                    _ => 0,
                })
                .sum::<usize>();
            if check_only {
                eprint(&format!(
                    "{name}: would change (resource-limits fix adds defaults)\n"
                ));
            }
            match (src, dry_run, check_only) {
                (_, true, _) => print(&fix::diff(&name, &f.original, new)),
                (_, false, true) => {}
                (Source::Stdin, false, false) => print(new),
                (Source::File(p), false, false) => {
                    if let Err(e) = std::fs::write(p, new) {
                        errors.push(InputError {
                            source: name.clone(),
                            line: None,
                            message: format!("cannot write: {e}"),
                        });
                    }
                }
            }
        } else if matches!(src, Source::Stdin) && !dry_run && !check_only {
            // A filter prints its input unchanged when there is nothing to add.
            print(&f.original);
        }
        reports.push(f.report);
    }
    // What fix could not solve: the violations, as `check` reports them.
    let (out, err) = report::human(&reports, &errors, &[], false);
    eprint(&err);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.pop(); // check's summary line; fix has its own
    for l in lines {
        eprint(&format!("{l}\n"));
    }
    let s = report::Summary::of(&reports, &errors);
    let kinds_skipped = reports
        .iter()
        .flat_map(|r| &r.objects)
        .filter(|o| matches!(o.outcome, check::Outcome::Skipped { .. }))
        .filter(|o| o.kind.as_deref().is_some_and(|k| options.skips_kind(k)))
        .count();
    eprint(&format!(
        "{} {} in {} {}{}; {} still failing ({}){}\n",
        if dry_run || check_only {
            "would add"
        } else {
            "added"
        },
        plural(added, "default", "defaults"),
        files_changed,
        if files_changed == 1 { "file" } else { "files" },
        match (check_only, dry_run) {
            (true, _) => " (--check: nothing written)",
            (false, true) => " (dry run: nothing written)",
            (false, false) => "",
        },
        plural(s.failed, "workload", "workloads"),
        plural(s.violations, "violation", "violations"),
        match kinds_skipped {
            0 => String::new(),
            n => format!("; {n} skipped (--skip-kind)"),
        },
    ));
    match s.exit_code(false) {
        0 if check_only && files_changed > 0 => 1,
        code => code as u8,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn run_settings_check(files: &[PathBuf], output: SettingsFormat) -> u8 {
    let mut all_valid = true;
    let mut results = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let found = std::fs::read(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_owned()))
            .and_then(|t| settings::find(&t).map_err(|e| e.to_string()));
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                all_valid = false;
                results.push(serde_json::json!({"file": name, "valid": false, "problems": [e.clone()], "message": e}));
                if output == SettingsFormat::Human {
                    eprint(&format!("{name}: {e}\n"));
                }
                continue;
            }
        };
        for f in found {
            let label = if f.what == "settings" {
                format!("{name}:{}", f.line)
            } else {
                format!("{name}:{} {}", f.line, f.what)
            };
            let json = match &f.json {
                Ok(j) => j,
                Err(e) => {
                    all_valid = false;
                    if output == SettingsFormat::Human {
                        print(&format!("{label}: {e}\n"));
                    }
                    results.push(serde_json::json!({
                        "file": name, "line": f.line, "source": f.what, "valid": false,
                        "message": e.to_string(), "problems": [e.to_string()],
                        "located": [{"line": f.line, "field": "", "message": e.to_string()}],
                    }));
                    continue;
                }
            };
            match yaml::settings_source::to_settings(json) {
                Ok(s) => {
                    if output == SettingsFormat::Human {
                        let names: Vec<&str> =
                            s.rules.iter().map(|r| r.resource.as_str()).collect();
                        print(&format!(
                            "{label}: valid settings (checks {})\n",
                            names.join(", ")
                        ));
                    }
                    results.push(serde_json::json!({"file": name, "line": f.line, "source": f.what, "valid": true}));
                }
                Err(error) => {
                    all_valid = false;
                    let located = yaml::settings_source::locate(&f, &error);
                    if output == SettingsFormat::Human {
                        for p in &located {
                            print(&format!("{}\n", settings::problem_line(&name, &f, p)));
                        }
                    }
                    let located: Vec<serde_json::Value> = located
                        .iter()
                        .map(|p| {
                            let mut o = serde_json::json!({
                                "line": p.line, "field": p.field, "message": p.text,
                            });
                            if let Some(s) = &p.did_you_mean {
                                o["didYouMean"] = serde_json::json!(s);
                            }
                            o
                        })
                        .collect();
                    results.push(serde_json::json!({
                        "file": name, "line": f.line, "source": f.what, "valid": false,
                        "message": error.to_string(),
                        "problems": error.located().iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "located": located,
                    }));
                }
            }
        }
    }
    if output != SettingsFormat::Human {
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::Value::Array(results)).unwrap_or_default()
        ));
    }
    if all_valid {
        0
    } else {
        2
    }
}
