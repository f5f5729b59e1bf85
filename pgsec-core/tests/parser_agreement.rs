//! The parsers against the server itself: a corpus of tricky `pg_hba.conf` and
//! `postgresql.conf` lines is written into a live server's data directory, read back
//! through `pg_hba_file_rules` / `pg_file_settings` (both re-read the files on every
//! query), and compared line by line, every column, with what the parsers say.
//!
//! The parsers are given the very paths the server uses (an in-memory loader holding
//! the same files at the same absolute paths), so the file names in the server's output
//! (`could not open file "/…/x"`) need no mapping.
//!
//! One corpus for every major: the server of `PGSEC_PG_MAJOR` (the testkit's default
//! otherwise) is the oracle, so the lines a major does not know (16's `include*`
//! records and regular expressions, 18's `oauth`) must be refused, or read literally,
//! exactly as that major does. `scripts/test.sh` runs this on 15, 17 and 18.

use std::path::Path;

use pgsec_core::conf::{ConfFile, ConfParseOptions, FileSettingRow};
use pgsec_core::hba::{HbaFile, HbaParseOptions, HbaViewRow, IdentFile, IdentViewRow, PgVersion};
use pgsec_core::MemoryLoader;
use pgsec_testkit::TestServer;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Directory (under the data directory) for the corpus' auxiliary files.
const AUX: &str = "pgsec_corpus";

/// Tricky hba lines: every record type, lists, quoting, keywords, `@file`, address
/// forms (`inet_aton` shorthands, IPv6, zones, masks), continuation, comments, CRLF,
/// and one line for most errors the server reports.
const HBA_CORPUS: &str = r#"# pgsec parser agreement corpus
local   all             all                                     trust
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 md5
hostssl all             all             0.0.0.0/0               cert
hostssl all             all             0.0.0.0/0               scram-sha-256 clientcert=verify-ca
hostssl all             all             0.0.0.0/0               cert clientcert=verify-ca
hostnossl all           all             10.0.0.0    255.0.0.0   reject
hostgssenc all          all             all                     gss
hostnogssenc all        all             samehost                password
host    "all"           "sameuser"      samenet                 trust
host    db1,db2,"db 3"  +admins,bob     192.168.1.0/24          md5
host    all, db4        all             .example.com            md5
host    all             all             example.com/24          md5
host    all             all             10.0.0.0/33             md5
host    all             all             10.0.0.0/x              md5
host    all             all             10.1                    255.255.0.0 md5
host    all             all             0x7f.1/32               trust
host    all             all             010.0.0.1/8             trust
host    all             all             2001:db8:0:0:1:0:0:1/128 trust
host    all             all             ::ffff:1.2.3.4/128      trust
host    all             all             fe80::1%1/64            trust
host    all             all             10.0.0.0    255.0.255.0 trust
host    all             all             10.0.0.0    ffff::      trust
host    all             all             10.0.0.0
host    all             all             10.0.0.0    255.0.0.0,255.0.0.0 trust
host    all             all
host
foo     all             all             all                     trust
host,local all          all             all                     trust
host    all             all             all                     bogus
host    all             all             all                     trust,md5
host    all             all             all                     peer
local   all             all                                     ident
local   all             all                                     gss
host    all             all             all                     ident map=foo
host    all             all             all                     md5 map=foo
host    all             all             all                     md5 foo
host    all             all             all                     md5 foo=bar
host    all             all             all                     md5 clientcert=verify-full
hostssl all             all             all                     md5 clientcert=bogus
hostssl all             all             all                     md5 clientname=bogus
hostssl all             all             all                     cert clientname=DN map=certmap
host    all             all             all                     ldap ldapserver=ldap.example.com ldapprefix="cn=" ldapsuffix=", dc=example, dc=net"
host    all             all             all                     ldap ldapserver=h ldapscheme=ldaps ldaptls=1 ldapbasedn="dc=example, dc=net" ldapsearchattribute=uid ldapport=636
host    all             all             all                     ldap ldapurl="ldap://ldap.example.net/dc=example,dc=net?uid?sub"
host    all             all             all                     ldap ldapbasedn=x ldapurl="ldap://h2:99/dc=y?cn?one?(objectClass=*)"
host    all             all             all                     ldap ldapurl="ldap://h?x"
host    all             all             all                     ldap ldapurl="LDAP://h:0/dc=a%20b"
host    all             all             all                     ldap ldapurl=http://x
host    all             all             all                     ldap ldapprefix=a ldapbasedn=b
host    all             all             all                     ldap ldapbasedn=b ldapsearchattribute=a ldapsearchfilter=f
host    all             all             all                     ldap ldapbasedn=b ldapport=abc
host    all             all             all                     ldap ldapserver=h ldapbasedn="dc=x" ldapbinddn="cn=admin" ldapbindpasswd="pgsec-ldap secret" ldapsearchattribute=uid
host    all             all             all                     radius radiusservers="127.0.0.1,127.0.0.2" radiussecrets=s radiusports=1812 radiusidentifiers=a,b
host    all             all             all                     radius radiusservers=127.0.0.1
host    all             all             all                     radius radiussecrets=a,b radiusservers=127.0.0.1
host    all             all             all                     radius radiusservers=127.0.0.1 radiussecrets=s radiusports=x
host    all             all             all                     radius radiusservers=127.0.0.1 radiussecrets=s radiusports=",1"
host    all             all             all                     gss include_realm=0 krb_realm=EXAMPLE.COM map=m
host    all             all             all                     sspi
host    all             all             all                     bsd
host    all             all             all                     pam pamservice=postgresql pam_use_hostname=1
host    all             all             all                     trust include_realm=1
host    all             all             all    \
        trust # a continued line
host    all             all             "all"                   trust
host    all             all             "samehost"              trust
host    all@            "a""b"          all                     trust
host    "@x"            @               all                     trust
host    al"l"           ""              all                     trust
host    all             all             1.2.3.4/+8              trust
host    all             all             1.2.3.4/                trust
host    all             all             ""                      trust
host    all             all             1.2.3.4/32 ident "map=x y",map=z
host    all             all             1.2.3.4/32 trust =x
local   replication,"replication" all                           trust
host    all             @pgsec_corpus/users                  all trust
host    @pgsec_corpus/nested,eve all                         all trust
host    all             @pgsec_corpus/missing                all trust
host    all             @"pgsec_corpus/users"                all trust
# a comment ending in a backslash swallows the next line \
host all all all reject
host    all             all             all                     trust # crlf line
host    all             all             10.0.0.0/8              trust
include pgsec_corpus/inc.conf
include_if_exists pgsec_corpus/missing.conf
include_if_exists pgsec_corpus/inc2.conf
include pgsec_corpus/missing.conf
include_dir pgsec_corpus/hba.d
include_dir pgsec_corpus/nodir
include
include a b
host    all             /^pgsec_.*$                     all     trust
host    "/^db[0-9]+$",postgres all                      all     trust
host    all             "/^quoted$"                     all     trust
host    all             /(                              all     trust
host    /a[             all                             all     trust
host    all             /^(a|b)\.x$,bob                 all     trust
local   all             all                                     oauth issuer=https://idp.example.com scope=openid
local   all             all                                     oauth issuer=https://idp.example.com scope="openid profile" validator=pgsec_probe_validator
local   all             all                                     oauth issuer=https://idp.example.com scope=openid validator=other_validator
local   all             all                                     oauth scope=openid
local   all             all                                     oauth issuer=https://idp.example.com
local   all             all                                     oauth
local   all             all                                     oauth issuer=x scope="" map=m delegate_ident_mapping=1
local   all             all                                     oauth issuer=x scope="" delegate_ident_mapping=1
local   all             all                                     oauth issuer=x scope="" delegate_ident_mapping=yes map=m
hostssl all             all             all                     oauth issuer=x scope=y clientcert=verify-ca map=m
host    all             all             all                     oauth issuer=x scope=y clientcert=verify-full
local   all             all                                     trust issuer=x
local   all             all                                     trust delegate_ident_mapping=1
local   all             all                                     trust map=m
local   all             all                                     ldap ldapprefix=a ldapbasedn=b"#;

/// Lines whose bytes matter: a NUL (the server's line reader drops the rest of the
/// physical line and joins the next one), carriage returns inside a line, lone
/// backslashes, unbalanced quotes, odd commas, and address shorthands.
const HBA_EDGES: &str = "host all all all trust\nhost all\0 garbage\nall all trust\n\
host\rall\rall\rall\rtrust\n\\\n\\\\\nhost all all all trust\\\\\n\
host \"all all all trust\nhost all, all all trust\nhost all all, all trust\n\
host all all all trust,\nhost ,all all all trust\n\"local\" all all \"peer\"\n\
host all all \"10.0.0.0/8\" md5 \"map=x\"\nhost all all 10.0.0.0/8 ident \"map\"=\"x\"\n\
host sameuser,samerole,samegroup,replication all ::/0 md5\n\
host all all 0.0.0.0 0.0.0.0 md5\nhost all all ::1:2:3:4:5:6:7 md5\n\
host all all 1::2::3/64 md5\nhost all all 255.255.255.255.255 md5\n\
host all all 4294967295/0 md5\nhost all all 1.16777215 0xffffffff md5\n\
host all all ::1 ffff:ffff:: md5\n";

/// `@file` contents for the corpus, relative to the hba file's directory.
const HBA_AUX: &[(&str, &str)] = &[
    (
        "pgsec_corpus/users",
        "alice, \"bob\"\n# a comment\ncarol,\\\ndave\n",
    ),
    ("pgsec_corpus/nested", "@users\n\"all\"\n"),
    // 16+: included files (the view names the file each rule comes from).
    (
        "pgsec_corpus/inc.conf",
        "host all all 10.1.0.0/16 scram-sha-256\ninclude inc_nested.conf\nhost all all bogus-method\n",
    ),
    (
        "pgsec_corpus/inc_nested.conf",
        "hostssl all @users 10.2.0.0/16 cert\n",
    ),
    ("pgsec_corpus/inc2.conf", "local all all peer map=m\n"),
    ("pgsec_corpus/hba.d/20-b.conf", "host all all 10.3.0.0/16 md5\n"),
    (
        "pgsec_corpus/hba.d/10-a.conf",
        "host all all 10.4.0.0/16 reject\n",
    ),
    ("pgsec_corpus/hba.d/ignored.txt", "host all all all trust\n"),
    ("pgsec_corpus/hba.d/.hidden.conf", "host all all all trust\n"),
];

/// A `pg_ident.conf` corpus: fields, lists, regular expressions (16+ also in the role
/// column), quoting, `@file`, and (16+) the include records.
const IDENT_CORPUS: &str = r#"# pgsec ident corpus
m1      alice                   bob
m1      "/^(.*)@example\.com$"  \1
m2      /^x$                    "all"
m2      all                     +admins
m3      /(                      bob
m3      bob                     /(
m3      bob                     /^ok$
m4      a,b                     c
m4      a                       b,c
m5,m6   a                       b
m7      a
m8
m9      a                       b       extra fields
m10     "quoted name"           +grp
m11     @pgsec_corpus/users     x
m12     x                       @pgsec_corpus/users
m13     a \
        b
include pgsec_corpus/ident_inc.conf
include_if_exists pgsec_corpus/none.conf
include pgsec_corpus/none.conf
include_dir pgsec_corpus/ident.d
"#;

/// Files the ident corpus includes.
const IDENT_AUX: &[(&str, &str)] = &[
    (
        "pgsec_corpus/ident_inc.conf",
        "incmap a b
incmap /[ b
",
    ),
    (
        "pgsec_corpus/ident.d/20-y.conf",
        "dmap y z
",
    ),
    (
        "pgsec_corpus/ident.d/10-x.conf",
        "dmap x z
",
    ),
];

/// The validator library the 18 server lists in `oauth_validator_libraries` (the
/// server only checks hba lines against the list; nothing is loaded until an OAuth
/// login, which never happens here).
const VALIDATOR: &str = "pgsec_probe_validator";

/// A valid `postgresql.conf` corpus: every row must agree, including `applied`.
const CONF_VALID: &[(&str, &str)] = &[
    (
        "pgsec_corpus/a.conf",
        "work_mem = 4MB\n\
         maintenance_work_mem '64MB'            # the '=' is optional\n\
         log_min_duration_statement=250ms\n\
         search_path = '\"$user\", public'\n\
         application_name = 'it''s'\n\
         log_line_prefix = '%m [%p] \\'x\\' \\101'\n\
         DateStyle = 'ISO, MDY'\n\
         \n\
         # a comment line\n\
         random_page_cost = 1.1\n\
         seq_page_cost = 1.0e0\n\
         cpu_tuple_cost = .01\n\
         lock_timeout = 0x10\n\
         default_statistics_target = +100\n\
         jit = off\r\n\
         work_mem = 8MB\n\
         pgsec.custom = 'x'\n\
         pgsec.custom = 'y'\n\
         Work_Mem = 16MB\n\
         include_if_exists 'missing.conf'\n\
         include_dir 'conf.d'\n\
         include 'sub/b.conf'\n\
         statement_timeout 0 # after the includes\n\
         idle_session_timeout = '1h'",
    ),
    (
        "pgsec_corpus/conf.d/10-ok.conf",
        "idle_in_transaction_session_timeout = 1min\n",
    ),
    ("pgsec_corpus/conf.d/05-first.conf", "geqo_threshold = 14\n"),
    ("pgsec_corpus/conf.d/.hidden.conf", "geqo_threshold = 99\n"),
    (
        "pgsec_corpus/conf.d/notes.conf.txt",
        "geqo_threshold = 98\n",
    ),
    (
        "pgsec_corpus/sub/b.conf",
        "include 'c.conf'\nlog_temp_files = 0\n",
    ),
    (
        "pgsec_corpus/sub/c.conf",
        "log_autovacuum_min_duration = '10s'\n",
    ),
];

/// A corpus with errors: the view abandons a file at its first syntax error and then
/// applies nothing.
const CONF_ERRORS: &[(&str, &str)] = &[
    (
        "pgsec_corpus/a.conf",
        "work_mem = 4MB\n\
         include 'missing.conf'\n\
         include_if_exists 'missing.conf'\n\
         include ''\n\
         include 'a.conf'\n\
         include_dir 'nodir'\n\
         include_dir 'conf.d'\n\
         include 'eof.conf'\n\
         include 'loop1.conf'\n\
         statement_timeout 0\n",
    ),
    ("pgsec_corpus/conf.d/10-ok.conf", "geqo_threshold = 14\n"),
    (
        "pgsec_corpus/conf.d/50-bad.conf",
        "a = 1 2\nwork_mem = 1MB\n",
    ),
    ("pgsec_corpus/conf.d/60-never.conf", "geqo_threshold = 15\n"),
    ("pgsec_corpus/eof.conf", "lock_timeout = 5s\nfoo ="),
    (
        "pgsec_corpus/loop1.conf",
        "jit = on\ninclude 'loop2.conf'\n",
    ),
    ("pgsec_corpus/loop2.conf", "include 'loop1.conf'\n"),
];

/// One file per edge case (the view abandons a file at its first error), all
/// included from one main corpus file.
fn conf_edges() -> Vec<(String, String)> {
    let cases = [
        "a.b.c = 1\nx = 2\n",
        "x = 'abc\ny = 1\n",
        "x = 'a\\\\b' # backslash\n",
        "x = 'tab\\there'\n",
        "x = 1#comment\n",
        "5 = 1\n",
        "x = -\n",
        "x = 1.5GB\n",
        "x = '1.5GB'\n",
        "include = 'e/none.conf'\n",
        "include e/none.conf\n",
        "Include 'none.conf'\n",
        "x 'it''s' y\n",
        "x = on off\n",
        "\u{e9}t\u{e9} = 1\n",
        "x\r\n= 1\r\n",
        "x = 'a'\n\ny = 'b'\n\n\nz =\n",
        "x = 0x\n",
        "x = 0xFFG\n",
        "x = .e5\n",
        "x = 1e\n",
        "x = -.5e-3\n",
        "x = a:b/c.d-e_f\n",
        "x = 'ab\\0cd'\n",
        "x = 'a\\101\\0601'\n",
        "x=\n",
        "=\n",
        "x = y = z\n",
        "include_dir ''\n",
        "include_dir 'nonexistent'\n",
        "include_if_exists ''\n",
        "x = '\\\n'\n",
        "x.y = 1\n",
        "x.y.z = 1\n",
        "_x = 1\n",
        "x = '\u{e9}'\n",
        "x\t=\t1\t\n",
        "x = 1\0 = 2\n",
    ];
    let mut files: Vec<(String, String)> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("pgsec_corpus/e/{i:02}.conf"), (*c).to_owned()))
        .collect();
    let main: String = (0..cases.len())
        .map(|i| format!("include 'e/{i:02}.conf'\n"))
        .collect();
    files.push(("pgsec_corpus/a.conf".to_owned(), main));
    files
}

#[tokio::test]
async fn parsers_agree_with_the_server() -> TestResult {
    // The major comes from PGSEC_PG_MAJOR (or the testkit's default); only an 18
    // server knows oauth_validator_libraries (an unknown setting stops 17 from starting).
    let probe = TestServer::builder();
    let wanted = pgsec_testkit::major_from_env()?;
    let server = match wanted {
        Some(m) if m >= 18 => probe.setting("oauth_validator_libraries", VALIDATOR),
        Some(_) => probe,
        None if pgsec_testkit::DEFAULT_MAJOR >= 18 => {
            probe.setting("oauth_validator_libraries", VALIDATOR)
        }
        None => probe,
    }
    .start()
    .await?;
    let major = server.major_version();
    let version = PgVersion::new(major).map_err(|m| format!("unsupported server major {m}"))?;
    let data_dir = server.data_dir();
    eprintln!(
        "parser agreement against PostgreSQL {major} ({} backend)",
        server.backend()
    );
    let libraries = if major >= 18 { VALIDATOR } else { "" };

    let hba = hba_agreement(&server, &data_dir, version, libraries).await?;
    let ident = ident_agreement(&server, &data_dir, version).await?;
    eprintln!(
        "pg_ident_file_mappings: {}/{} lines agree",
        ident.0, ident.1
    );
    assert!(ident.1 >= 20, "the ident corpus has at least 20 lines");
    assert_eq!(ident.0, ident.1, "every ident line agrees");
    let valid = conf_agreement(&server, &data_dir, major, CONF_VALID).await?;
    let errors = conf_agreement(&server, &data_dir, major, CONF_ERRORS).await?;
    let edges = conf_edges();
    let edge_refs: Vec<(&str, &str)> = edges
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let edges = conf_agreement(&server, &data_dir, major, &edge_refs).await?;

    eprintln!("pg_hba_file_rules: {}/{} lines agree", hba.0, hba.1);
    eprintln!(
        "pg_file_settings (valid corpus): {}/{} rows agree",
        valid.0, valid.1
    );
    eprintln!(
        "pg_file_settings (error corpus): {}/{} rows agree",
        errors.0, errors.1
    );
    eprintln!(
        "pg_file_settings (edge cases): {}/{} rows agree",
        edges.0, edges.1
    );
    assert!(hba.1 >= 40, "the hba corpus has at least 40 lines");
    assert!(
        valid.1 + errors.1 >= 20,
        "the conf corpus has at least 20 lines"
    );
    assert!(
        valid.2 >= 20 && errors.2 >= 3 && edges.2 >= 15,
        "the corpus files were read"
    );
    assert_eq!(hba.0, hba.1, "every hba line agrees");
    assert_eq!(valid.0, valid.1, "every conf row agrees (valid corpus)");
    assert_eq!(errors.0, errors.1, "every conf row agrees (error corpus)");
    assert_eq!(edges.0, edges.1, "every conf row agrees (edge cases)");

    // 18: the same corpus with no validator library and with two (the server reads
    // oauth_validator_libraries on reload; pg_hba_file_rules checks every oauth line
    // against it).
    if major >= 18 {
        for libraries in ["", "pgsec_probe_validator, other_validator"] {
            set_validator_libraries(&server, Some(libraries)).await?;
            let again = hba_agreement(&server, &data_dir, version, libraries).await?;
            eprintln!(
                "pg_hba_file_rules with oauth_validator_libraries = '{libraries}': {}/{} lines agree",
                again.0, again.1
            );
            assert_eq!(again.0, again.1, "every hba line agrees ({libraries:?})");
        }
        set_validator_libraries(&server, None).await?;
    }
    Ok(())
}

/// Sets `oauth_validator_libraries` at the end of `postgresql.conf` (None: back to the
/// value the server started with), reloads, and waits (bounded) until new sessions see
/// it. Not `ALTER SYSTEM`: that quotes a string given for a list setting as one element
/// (`''` becomes `""`).
async fn set_validator_libraries(server: &TestServer, value: Option<&str>) -> TestResult {
    const MARK: &str = "\n# pgsec oauth corpus\n";
    let admin = server.admin_client().await?;
    let config_file: String = admin
        .query_one("select current_setting('config_file')", &[])
        .await?
        .get(0);
    let rel = under_data_dir(&config_file, &server.data_dir())?.to_owned();
    let original: String = admin
        .query_one("select pg_read_file(current_setting('config_file'))", &[])
        .await?
        .get(0);
    let original = match original.find(MARK) {
        Some(i) => original[..i].to_owned(),
        None => original,
    };
    let text = match value {
        Some(v) => format!(
            "{original}{MARK}oauth_validator_libraries = '{}'\n",
            v.replace('\'', "''")
        ),
        None => original,
    };
    server.write_file(&rel, &text).await?;
    server.reload().await?;
    let want = value.unwrap_or(VALIDATOR);
    for _ in 0..100 {
        let seen: String = server
            .admin_client()
            .await?
            .query_one("show oauth_validator_libraries", &[])
            .await?
            .get(0);
        if seen == want {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(format!("oauth_validator_libraries never became {want:?} after a reload").into())
}

/// The path of `abs` relative to the data directory, for `write_file`.
fn under_data_dir<'a>(abs: &'a str, data_dir: &str) -> Result<&'a str, String> {
    abs.strip_prefix(data_dir)
        .map(|p| p.trim_start_matches('/'))
        .ok_or_else(|| format!("{abs} is not under the data directory {data_dir}"))
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

async fn hba_agreement(
    server: &TestServer,
    data_dir: &str,
    version: PgVersion,
    libraries: &str,
) -> Result<(usize, usize), Box<dyn std::error::Error + Send + Sync>> {
    let admin = server.admin_client().await?;
    let hba_file: String = admin
        .query_one("select current_setting('hba_file')", &[])
        .await?
        .get(0);
    let hba_rel = under_data_dir(&hba_file, data_dir)?.to_owned();
    let hba_dir = dir_of(&hba_file).to_owned();
    let aux_rel_dir = dir_of(&hba_rel);

    let mut loader = MemoryLoader::new();
    for (rel, text) in HBA_AUX {
        let write_rel = if aux_rel_dir.is_empty() {
            (*rel).to_owned()
        } else {
            format!("{aux_rel_dir}/{rel}")
        };
        server.write_file(&write_rel, text).await?;
        loader = loader.with_file(format!("{hba_dir}/{rel}"), *text);
    }
    // CRLF on one line, and no newline at the end of the file.
    let corpus =
        format!("{HBA_EDGES}{HBA_CORPUS}").replace("trust # crlf line\n", "trust # crlf line\r\n");
    server.write_file(&hba_rel, &corpus).await?;

    let options = HbaParseOptions::new(version).with_oauth_validator_libraries(libraries);
    let file = HbaFile::parse_with(&corpus, Path::new(&hba_file), &options, &loader);
    // The server shows secret option values; so does this variant of the view.
    let ours = file.to_view_rows_for(&options, true);

    let has_file_columns = version.major() >= 16;
    let sql = if has_file_columns {
        // The view's own order: the order the server read the lines in, included
        // files where they are included.
        "select rule_number::int8, file_name, line_number::int8, type, database, user_name, address, netmask, auth_method, options, error from pg_hba_file_rules"
    } else {
        "select null::int8, null::text, line_number::int8, type, database, user_name, address, netmask, auth_method, options, error from pg_hba_file_rules order by line_number"
    };
    let mut theirs: Vec<HbaViewRow> = admin
        .query(sql, &[])
        .await?
        .iter()
        .map(|r| HbaViewRow {
            rule_number: r.get(0),
            file_name: r.get(1),
            line_number: r.get(2),
            conn_type: r.get(3),
            database: r.get(4),
            user_name: r.get(5),
            address: r.get(6),
            netmask: r.get(7),
            auth_method: r.get(8),
            options: r.get(9),
            error: r.get(10),
            has_file_columns,
        })
        .collect();
    // The secrets were read as the server reads them, and the default view hides
    // them exactly where the server shows them.
    let secret = "pgsec-ldap secret";
    assert!(
        theirs
            .iter()
            .filter_map(|r| r.options.as_ref())
            .flatten()
            .any(|o| o.contains(secret)),
        "the server shows the LDAP bind password"
    );
    // Where the server's error text shows (part of) a secret, pgsec's shows
    // `<redacted>` (`radiussecrets=a,b` unquoted: "... not in name=value format: b"):
    // the rest of the text must agree.
    let mut redacted_errors = 0;
    for (t, o) in theirs.iter_mut().zip(&ours) {
        if let (Some(te), Some(oe)) = (&t.error, &o.error) {
            if oe.contains("<redacted>") && te != oe && matches_redacted(oe, te) {
                t.error = Some(oe.clone());
                redacted_errors += 1;
            }
        }
    }
    assert!(
        redacted_errors >= 1,
        "the corpus has an error text that shows a secret"
    );
    per_major_checks(version.major(), &theirs, libraries, &hba_dir)?;
    let theirs_redacted: Vec<HbaViewRow> =
        theirs.iter().cloned().map(HbaViewRow::redacted).collect();
    let ours_redacted = file.to_view_rows_for(&options, false);
    let (agree, total) = compare(
        "pg_hba_file_rules (redacted)",
        &theirs_redacted,
        &ours_redacted,
    );
    assert_eq!(agree, total, "the redacted views agree");
    let json = serde_json::to_string(&ours_redacted)?;
    assert!(
        !json.contains(secret) && !json.contains("radiussecrets=s"),
        "{json}"
    );
    Ok(compare("pg_hba_file_rules", &theirs, &ours))
}

async fn ident_agreement(
    server: &TestServer,
    data_dir: &str,
    version: PgVersion,
) -> Result<(usize, usize), Box<dyn std::error::Error + Send + Sync>> {
    let admin = server.admin_client().await?;
    let ident_file: String = admin
        .query_one("select current_setting('ident_file')", &[])
        .await?
        .get(0);
    let ident_rel = under_data_dir(&ident_file, data_dir)?.to_owned();
    let ident_dir = dir_of(&ident_file).to_owned();
    let aux_rel_dir = dir_of(&ident_rel);
    let mut loader = MemoryLoader::new();
    for (rel, text) in HBA_AUX.iter().chain(IDENT_AUX) {
        let write_rel = if aux_rel_dir.is_empty() {
            (*rel).to_owned()
        } else {
            format!("{aux_rel_dir}/{rel}")
        };
        server.write_file(&write_rel, text).await?;
        loader = loader.with_file(format!("{ident_dir}/{rel}"), *text);
    }
    let original: String = admin
        .query_one("select pg_read_file(current_setting('ident_file'))", &[])
        .await?
        .get(0);
    server.write_file(&ident_rel, IDENT_CORPUS).await?;
    let options = HbaParseOptions::new(version);
    let ours = IdentFile::parse_with(IDENT_CORPUS, Path::new(&ident_file), &options, &loader)
        .to_view_rows(version);
    let file_columns = version.major() >= 16;
    let sql = if file_columns {
        "select map_number::int8, file_name, line_number::int8, map_name, sys_name, pg_username, error from pg_ident_file_mappings"
    } else {
        "select null::int8, null::text, line_number::int8, map_name, sys_name, pg_username, error from pg_ident_file_mappings"
    };
    let theirs: Vec<IdentViewRow> = admin
        .query(sql, &[])
        .await?
        .iter()
        .map(|r| IdentViewRow {
            map_number: r.get(0),
            file_name: r.get(1),
            line_number: r.get(2),
            map_name: r.get(3),
            sys_name: r.get(4),
            pg_username: r.get(5),
            error: r.get(6),
        })
        .collect();
    server.write_file(&ident_rel, &original).await?;
    let regex_errors = theirs
        .iter()
        .filter(|r| {
            r.error
                .as_deref()
                .is_some_and(|e| e.starts_with("invalid regular expression"))
        })
        .count();
    // 15 compiles the system-user column only; 16+ the role column and included
    // files too.
    let want = if file_columns { 3 } else { 1 };
    assert!(
        regex_errors >= want,
        "PostgreSQL {}: {regex_errors} invalid regular expressions refused, want {want}",
        version.major()
    );
    Ok(compare("pg_ident_file_mappings", &theirs, &ours))
}

/// What each major must do with the lines of later majors, on the server's side (the
/// comparison then holds pgsec to the same): not vacuous, and the corpus reached the
/// code it is for.
fn per_major_checks(
    major: u32,
    theirs: &[HbaViewRow],
    libraries: &str,
    hba_dir: &str,
) -> Result<(), String> {
    let errors = |needle: &str| {
        theirs
            .iter()
            .filter(|r| r.error.as_deref().is_some_and(|e| e.contains(needle)))
            .count()
    };
    let oauth_rules = theirs
        .iter()
        .filter(|r| r.auth_method.as_deref() == Some("oauth"))
        .count();
    let included = theirs
        .iter()
        .filter(|r| {
            r.file_name
                .as_deref()
                .is_some_and(|f| f.starts_with(&format!("{hba_dir}/{AUX}/")))
        })
        .count();
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("PostgreSQL {major}: {what}"))
        }
    };
    if major >= 16 {
        check(
            included >= 4,
            "rules from include/include_if_exists/include_dir files",
        )?;
        check(
            errors("invalid regular expression") >= 2,
            "invalid regular expressions refused",
        )?;
    } else {
        check(
            errors("invalid connection type \"include") >= 3,
            "include records refused before 16",
        )?;
    }
    if major >= 18 {
        check(
            errors("requires argument \"scope\"") >= 2,
            "oauth lines without scope refused",
        )?;
        check(
            errors("is only valid for authentication methods oauth") >= 2,
            "oauth options on other methods refused",
        )?;
        if libraries.is_empty() {
            check(
                errors("oauth_validator_libraries must be set") >= 5,
                "oauth refused without a validator library",
            )?;
            check(
                oauth_rules == 0,
                "no oauth rule without a validator library",
            )?;
        } else {
            check(
                oauth_rules >= 2,
                "oauth rules accepted with a validator library",
            )?;
            // With several libraries the delegating line names no validator: refused.
            let delegating = theirs
                .iter()
                .filter_map(|r| r.options.as_ref())
                .flatten()
                .any(|o| o == "delegate_ident_mapping=true");
            let one_library = !libraries.contains(',');
            check(
                delegating == one_library,
                "delegate_ident_mapping shown when the line is accepted",
            )?;
        }
    } else {
        check(
            errors("invalid authentication method \"oauth\"") >= 10,
            "oauth refused before 18",
        )?;
        check(
            errors("unrecognized authentication option name: \"issuer\"") >= 1,
            "oauth options unknown before 18",
        )?;
    }
    Ok(())
}

async fn conf_agreement(
    server: &TestServer,
    data_dir: &str,
    major: u32,
    corpus: &[(&str, &str)],
) -> Result<(usize, usize, usize), Box<dyn std::error::Error + Send + Sync>> {
    let admin = server.admin_client().await?;
    let config_file: String = admin
        .query_one("select current_setting('config_file')", &[])
        .await?
        .get(0);
    let conf_rel = under_data_dir(&config_file, data_dir)?.to_owned();
    let conf_dir = dir_of(&config_file).to_owned();
    let rel_dir = dir_of(&conf_rel);
    let original: String = admin
        .query_one("select pg_read_file(current_setting('config_file'))", &[])
        .await?
        .get(0);
    let original = match original.find("\n# pgsec corpus\n") {
        Some(i) => original[..i].to_owned(),
        None => original,
    };

    // Clear files a previous corpus left behind, then write this one.
    let mut loader = MemoryLoader::new();
    let edges = conf_edges();
    let mut all_paths: Vec<&str> = CONF_VALID
        .iter()
        .chain(CONF_ERRORS)
        .map(|(p, _)| *p)
        .chain(edges.iter().map(|(p, _)| p.as_str()))
        .collect();
    all_paths.sort_unstable();
    all_paths.dedup();
    for p in all_paths {
        let write_rel = if rel_dir.is_empty() {
            p.to_owned()
        } else {
            format!("{rel_dir}/{p}")
        };
        match corpus.iter().find(|(q, _)| *q == p) {
            Some((_, text)) => {
                server.write_file(&write_rel, text).await?;
                loader = loader.with_file(format!("{conf_dir}/{p}"), *text);
            }
            // An emptied file still exists; keep it visible to our parser too.
            None => {
                server.write_file(&write_rel, "").await?;
                loader = loader.with_file(format!("{conf_dir}/{p}"), "");
            }
        }
    }
    let include = format!("include '{AUX}/a.conf'\n");
    server
        .write_file(&conf_rel, &format!("{original}\n# pgsec corpus\n{include}"))
        .await?;

    // Our side: a main file holding only the include, so depths match the server's.
    let ours: Vec<FileSettingRow> = ConfFile::parse_with(
        &include,
        Path::new(&config_file),
        &loader,
        &ConfParseOptions::file_settings_view(major),
    )
    .to_file_settings_rows();

    let prefix = format!("{conf_dir}/{AUX}/");
    let rows = admin
        .query(
            "select sourcefile, sourceline::int8, seqno::int8, name, setting, applied, error from pg_file_settings order by seqno",
            &[],
        )
        .await?;
    let all: Vec<FileSettingRow> = rows
        .iter()
        .map(|r| FileSettingRow {
            sourcefile: r.get(0),
            sourceline: r.get(1),
            seqno: r.get(2),
            name: r.get(3),
            setting: r.get(4),
            applied: r.get(5),
            error: r.get(6),
        })
        .collect();
    let in_corpus = |r: &FileSettingRow| {
        r.sourcefile
            .as_deref()
            .is_some_and(|f| f.starts_with(&prefix))
    };
    let first = all.iter().position(in_corpus).unwrap_or(all.len());
    let last = all.iter().rposition(in_corpus).map_or(first, |i| i + 1);
    // Names set again after the corpus (postgresql.auto.conf) make corpus rows
    // unapplied on the server for reasons outside the corpus.
    let later: Vec<String> = all[last..].iter().filter_map(|r| r.name.clone()).collect();
    let base = all.get(first).map_or(1, |r| r.seqno);
    let mut theirs: Vec<FileSettingRow> = all[first..last].to_vec();
    for r in &mut theirs {
        r.seqno = r.seqno - base + 1;
    }
    let mut ours = ours;
    for (o, t) in ours.iter_mut().zip(&theirs) {
        if o.name.as_ref().is_some_and(|n| later.contains(n)) {
            o.applied = t.applied;
        }
    }
    // Leave the server's own configuration as it was.
    server.write_file(&conf_rel, &original).await?;
    // Not vacuous: most corpus files were read (a setting row came from them).
    let settings = theirs.iter().filter(|r| r.name.is_some()).count();
    let (agree, total) = compare("pg_file_settings", &theirs, &ours);
    Ok((agree, total, settings))
}

/// Compares row by row; prints the rows that differ; returns (agreeing, total).
/// Whether `text` is `pattern` with each `<redacted>` standing for some text.
fn matches_redacted(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split("<redacted>");
    let Some(first) = parts.next() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.len() > part.len() && rest.ends_with(part);
        }
        match rest.get(1..).and_then(|r| r.find(part)) {
            Some(at) => rest = &rest[1 + at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn compare<T: PartialEq + std::fmt::Debug>(what: &str, theirs: &[T], ours: &[T]) -> (usize, usize) {
    let total = theirs.len().max(ours.len());
    let mut agree = 0;
    for i in 0..total {
        match (theirs.get(i), ours.get(i)) {
            (Some(a), Some(b)) if a == b => agree += 1,
            (a, b) => eprintln!("{what} row {}:\n  server: {a:?}\n  pgsec:  {b:?}", i + 1),
        }
    }
    (agree, total)
}
