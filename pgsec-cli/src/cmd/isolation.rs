//! `pgsec isolation --admin CONNINFO --app CONNINFO`: property-test Row-Level Security
//! tenant isolation of a database (pgsec-testkit's checker).
//!
//! Prints the coverage table (every relation and function the application role can
//! reach: exercised, or why not), pgsec-core's static `rls.*`/`fn.*` findings for the
//! same database, and the verdict. Exit 0 when clean (no violation, everything
//! readable exercised), 1 on a leak (with the minimal counterexample), 3 when
//! incomplete (no violation, but something readable was not exercised and not
//! `--exclude`d), 2 on a usage or connection error.

use pgsec_client::SettingName;
use pgsec_testkit::isolation::{check, IsolationConfig, DEFAULT_CASES};

use super::demo::progress::Progress;

/// Arguments of `pgsec isolation`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Generates tenants and operation sequences, runs them as the application \
                  role through TenantPool and reports the shortest sequence that lets one \
                  tenant see or change another's rows. Seeds rows through the admin \
                  connection (deleted again at the end): run it against a test database."
)]
pub(crate) struct IsolationArgs {
    /// libpq connection string of a superuser or BYPASSRLS role (seeds rows, computes
    /// what each tenant should see).
    #[arg(long, value_name = "CONNINFO")]
    admin: String,
    /// libpq connection string of the application role.
    #[arg(long, value_name = "CONNINFO")]
    app: String,
    /// The setting that carries the tenant.
    #[arg(long, value_name = "NAME", default_value = pgsec_client::DEFAULT_TENANT_SETTING,
          value_parser = parse_setting)]
    setting: SettingName,
    /// A column name that makes a table a tenant table (repeat for several; default
    /// tenant_id).
    #[arg(long = "tenant-column", value_name = "C")]
    tenant_columns: Vec<String>,
    /// Cases (operation sequences) to run.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CASES,
          value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// Seed of the generator (printed with every result, to replay a run).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Leave a relation or function out (`schema.name`, `name`, or a function's
    /// `schema.name(argument types)`; repeat for several): it is not exercised and
    /// does not make the verdict incomplete.
    #[arg(long = "exclude", value_name = "NAME")]
    exclude: Vec<String>,
    /// Output format: text, json (one object: verdict, coverage, static findings,
    /// counterexample), or html (one self-contained page, the counterexample as
    /// numbered SQL).
    #[arg(long, value_name = "FORMAT", default_value = "text",
          value_parser = ["text", "json", "html"])]
    format: String,
}

fn parse_setting(s: &str) -> Result<SettingName, String> {
    SettingName::new(s).map_err(|e| e.to_string())
}

impl IsolationArgs {
    fn config(self) -> IsolationConfig {
        let mut config = IsolationConfig {
            admin_conninfo: self.admin,
            app_conninfo: self.app,
            setting: self.setting,
            cases: self.cases,
            seed: self.seed,
            exclude: self.exclude,
            ..IsolationConfig::default()
        };
        if !self.tenant_columns.is_empty() {
            config.tenant_columns = self.tenant_columns;
        }
        config
    }
}

pub(crate) fn run(args: IsolationArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    let format = args.format.clone();
    // A spinner on stderr when it is a terminal; nothing is added to standard output.
    let progress = Progress::start(format!("running up to {} cases", args.cases));
    let result = runtime.block_on(check(args.config()));
    drop(progress);
    match result {
        Err(e) => super::fail_error(&e),
        Ok(report) => {
            let text = match format.as_str() {
                "json" => report.to_json(),
                "html" => report.to_html(),
                _ => report.to_string(),
            };
            match super::write_stdout(&text) {
                Ok(()) => report.verdict().exit_code(),
                Err(e) => super::fail(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: IsolationArgs,
    }

    fn parse(args: &[&str]) -> Result<IsolationConfig, clap::Error> {
        let mut argv = vec!["pgsec-isolation"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| cli.args.config())
    }

    #[test]
    fn defaults_match_the_library() {
        let config = parse(&["--admin", "host=a", "--app", "host=b"]).unwrap();
        let defaults = IsolationConfig::default();
        assert_eq!(config.admin_conninfo, "host=a");
        assert_eq!(config.app_conninfo, "host=b");
        assert_eq!(config.setting, defaults.setting);
        assert_eq!(config.tenant_columns, defaults.tenant_columns);
        assert_eq!(config.cases, DEFAULT_CASES);
        assert_eq!(config.seed, None);
    }

    #[test]
    fn every_option_reaches_the_config() {
        let config = parse(&[
            "--admin",
            "host=a",
            "--app",
            "host=b",
            "--setting",
            "app.org",
            "--tenant-column",
            "org_id",
            "--tenant-column",
            "account_id",
            "--cases",
            "17",
            "--seed",
            "99",
            "--exclude",
            "public.remote_items",
            "--exclude",
            "audit_log",
        ])
        .unwrap();
        assert_eq!(config.exclude, ["public.remote_items", "audit_log"]);
        assert_eq!(config.setting.as_str(), "app.org");
        assert_eq!(config.tenant_columns, ["org_id", "account_id"]);
        assert_eq!(config.cases, 17);
        assert_eq!(config.seed, Some(99));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--admin", "a"][..],
            &["--admin", "a", "--app", "b", "--setting", "search_path"],
            &["--admin", "a", "--app", "b", "--cases", "0"],
            &["--admin", "a", "--app", "b", "--seed", "-1"],
            &["--admin", "a", "--app", "b", "--format", "sarif"],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }
}
