//! `pgsec harden (--preset strict | --profile FILE) --out DIR`: write a hardened
//! configuration (conf.d fragment, pg_hba.conf, roles.sql, rls.sql) that passes
//! `pgsec audit`.

use std::path::{Path, PathBuf};

use pgsec_core::harden::{generate, Profile, PROFILE_TEMPLATE};

/// The built-in profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Preset {
    /// TLS-only SCRAM access from the allowed networks, least-privilege roles, forced
    /// Row-Level Security, pgaudit.
    Strict,
}

/// Arguments of `pgsec harden`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Profile format: `pgsec harden --print-profile` prints every key with the \
                  strict preset's values.\nApply: copy the fragment into a directory \
                  postgresql.conf includes last (include_dir), replace pg_hba.conf, restart; \
                  run roles.sql as a superuser in the database; set passwords with \
                  psql's \\password; run rls.sql after the migrations."
)]
pub(crate) struct HardenArgs {
    /// A built-in profile.
    #[arg(long, value_enum, conflicts_with = "profile", required_unless_present_any = ["profile", "print_profile"])]
    preset: Option<Preset>,
    /// A profile file (TOML; see --print-profile).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Directory to write the files to (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "print_profile")]
    out: Option<PathBuf>,
    /// The application's database (overrides the profile).
    #[arg(long, value_name = "NAME")]
    database: Option<String>,
    /// The application role's name (overrides the profile).
    #[arg(long = "app-role", value_name = "ROLE")]
    app_role: Option<String>,
    /// A network the roles may connect from, CIDR or samenet (repeatable; replaces the
    /// profile's list).
    #[arg(long = "network", value_name = "CIDR")]
    networks: Vec<String>,
    /// A tenant table, `[schema.]table[:column]` (repeatable; added to the profile's).
    #[arg(long = "tenant-table", value_name = "TABLE")]
    tenant_tables: Vec<String>,
    /// Do not load or configure pgaudit.
    #[arg(long = "no-pgaudit")]
    no_pgaudit: bool,
    /// Overwrite files that already exist in --out.
    #[arg(long)]
    force: bool,
    /// Print the profile format (every key, at the strict preset's values) and exit.
    #[arg(long = "print-profile")]
    print_profile: bool,
}

pub(crate) fn run(args: HardenArgs) -> u8 {
    if args.print_profile {
        print!("{PROFILE_TEMPLATE}");
        return 0;
    }
    let profile = match profile(&args) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    let Some(out) = &args.out else {
        return super::fail("--out DIR is required");
    };
    match write(out, &profile, args.force) {
        Ok(written) => {
            for path in &written {
                println!("wrote {}", path.display());
            }
            println!(
                "next: install {} and pg_hba.conf, restart; psql -d {} -f roles.sql as a superuser; \
                 \\password each login role; psql -f rls.sql after the migrations; then \
                 pgsec audit --url ... to check",
                pgsec_core::harden::CONF_FILE,
                profile.database
            );
            0
        }
        Err(e) => super::fail(e),
    }
}

fn profile(args: &HardenArgs) -> Result<Profile, String> {
    let mut p = match (&args.profile, args.preset) {
        (Some(path), _) => {
            // A regular file of at most 64 MiB: not a FIFO or a device.
            let text = pgsec_core::read_input_file(path, &pgsec_core::InputLimits::default())
                .map_err(|e| pgsec_core::display_chain(&e))?;
            Profile::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        (None, Some(Preset::Strict) | None) => Profile::strict(),
    };
    if let Some(db) = &args.database {
        p = p.with_database(db).map_err(|e| e.to_string())?;
    }
    if let Some(app) = &args.app_role {
        p = p.with_app_role(app).map_err(|e| e.to_string())?;
    }
    if !args.networks.is_empty() {
        p = p.with_networks(&args.networks).map_err(|e| e.to_string())?;
    }
    for t in &args.tenant_tables {
        p = p.with_tenant_table(t).map_err(|e| e.to_string())?;
    }
    if args.no_pgaudit {
        p = p.with_pgaudit(false);
    }
    Ok(p)
}

/// Writes every file, or none when one exists and `force` is off.
fn write(out: &Path, profile: &Profile, force: bool) -> Result<Vec<PathBuf>, String> {
    let hardening = generate(profile);
    let files = hardening.files();
    if !force {
        if let Some((name, _)) = files.iter().find(|(name, _)| out.join(name).exists()) {
            return Err(format!(
                "{} already exists; pass --force to overwrite, or choose another --out",
                out.join(name).display()
            ));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut written = Vec::with_capacity(files.len());
    for (name, contents) in files {
        let path = out.join(name);
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
