//! `edgeauth admin <verb>`: the admin API driven from a shell. It talks HTTP to a running
//! replica's admin listener (`--url`, plain `http://`, default `http://127.0.0.1:9090`) with
//! a token read from `--token-file`, never to Redis. Verbs: `find`, `show`, `list`, `lock`,
//! `unlock`, `sign-out`, `activate`, `reset`, `delete`, `unthrottle`. An account argument
//! with an `@` is an email, resolved with `GET /admin/accounts?email=` first; every action
//! looks its account up first, so it prints whom it acted on and an unknown account fails
//! before anything is sent. Human output by default (see `output`), `--json` prints the API's
//! JSON. Exit status: 0 done, 1 failed (an error answer — its message on stderr —, no
//! answer, an unreadable token file, no such account), 2 a usage error (clap's, and `delete`
//! without `--yes`).

mod client;
mod output;

use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgGroup, ArgMatches, Command};
use hyper::Method;

use client::{Client, Failure, check_url};
use output::{Action, Page, Summary};

/// The admin listener of a replica on this machine (or at the end of a port-forward).
const DEFAULT_URL: &str = "http://127.0.0.1:9090";

/// An account as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Email(String),
    Id(uuid::Uuid),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Email(email) => f.write_str(email),
            Target::Id(id) => write!(f, "{id}"),
        }
    }
}

/// An argument with an `@` is an email; anything else must be an account id (a UUID).
fn parse_target(arg: &str) -> Result<Target, String> {
    if arg.contains('@') {
        return Ok(Target::Email(arg.to_owned()));
    }
    uuid::Uuid::parse_str(arg)
        .map(Target::Id)
        .map_err(|_| "neither an email (with an @) nor an account id (a UUID)".to_owned())
}

fn target_arg(help: &'static str) -> Arg {
    Arg::new("account")
        .value_name("ID|EMAIL")
        .required(true)
        .value_parser(parse_target)
        .help(help)
}

fn account_verb(name: &'static str, about: &'static str) -> Command {
    Command::new(name)
        .about(about)
        .arg(target_arg("The account: its id, or its email"))
}

/// The `admin` subcommand and its verbs.
pub fn command() -> Command {
    Command::new("admin")
        .about("Administer accounts through a running replica's admin API (never Redis directly)")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("url")
                .long("url")
                .global(true)
                .value_name("URL")
                .default_value(DEFAULT_URL)
                .value_parser(check_url)
                .help("The admin listener, http:// only (a private network or a port-forward)"),
        )
        .arg(
            Arg::new("token-file")
                .long("token-file")
                .global(true)
                .value_name("FILE")
                .help("A file holding an admin token: its first line that is not blank or a # comment [required]"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Print the API's JSON instead of text"),
        )
        .subcommand(
            Command::new("find")
                .about("Show the account with this email")
                .arg(
                    Arg::new("email")
                        .value_name("EMAIL")
                        .required(true)
                        .help("The account's email"),
                ),
        )
        .subcommand(account_verb("show", "Show an account"))
        .subcommand(
            Command::new("list")
                .about("List accounts, a page at a time (or all of them with --all)")
                .arg(
                    Arg::new("limit")
                        .long("limit")
                        .value_name("N")
                        .value_parser(clap::value_parser!(u16).range(1..=1000))
                        .help("Accounts per page, 1 to 1000 [default: the server's, 100]"),
                )
                .arg(
                    Arg::new("cursor")
                        .long("cursor")
                        .value_name("CURSOR")
                        .conflicts_with("all")
                        .help("Start where a previous page ended (its next cursor)"),
                )
                .arg(
                    Arg::new("all")
                        .long("all")
                        .action(ArgAction::SetTrue)
                        .help("Follow the cursor to the last page"),
                ),
        )
        .subcommand(
            account_verb(
                "lock",
                "Lock an account: every session ends, sign-ins answer 403 account_locked",
            )
            .arg(
                Arg::new("reason")
                    .long("reason")
                    .value_name("TEXT")
                    .required(true)
                    .help("Why (kept with the account, shown by show)"),
            ),
        )
        .subcommand(account_verb("unlock", "Unlock a locked account"))
        .subcommand(account_verb("sign-out", "End every session of an account"))
        .subcommand(account_verb(
            "activate",
            "Activate an account without its activation ticket",
        ))
        .subcommand(account_verb(
            "reset",
            "Start a password reset: emits password.reset_requested with a fresh ticket",
        ))
        .subcommand(
            account_verb("delete", "Delete an account for good (needs --yes)").arg(
                Arg::new("yes")
                    .long("yes")
                    .action(ArgAction::SetTrue)
                    .help("Yes, delete it"),
            ),
        )
        .subcommand(
            Command::new("unthrottle")
                .about("Clear the rate-limit counters of an email or an IP address")
                .arg(Arg::new("email").long("email").value_name("EMAIL"))
                .arg(Arg::new("ip").long("ip").value_name("IP"))
                .group(
                    ArgGroup::new("subject")
                        .args(["email", "ip"])
                        .required(true)
                        .multiple(false),
                ),
        )
}

/// What the command line asked for, checked before any request.
#[derive(Debug, PartialEq, Eq)]
enum Verb {
    Find(String),
    Show(Target),
    List {
        limit: Option<u16>,
        cursor: Option<String>,
        all: bool,
    },
    Act(Action, Target, Option<String>),
    Unthrottle {
        key: &'static str,
        value: String,
    },
}

/// The verb of `edgeauth admin …`, or the usage error to print (exit 2).
fn verb(m: &ArgMatches) -> Result<Verb, String> {
    let (name, sub) = m
        .subcommand()
        .ok_or_else(|| "a verb is required (edgeauth admin --help)".to_owned())?;
    let target = || {
        sub.get_one::<Target>("account")
            .cloned()
            .ok_or_else(|| format!("{name}: an account is required"))
    };
    let action = |action: Action| Ok(Verb::Act(action, target()?, None));
    match name {
        "find" => Ok(Verb::Find(
            sub.get_one::<String>("email").cloned().unwrap_or_default(),
        )),
        "show" => Ok(Verb::Show(target()?)),
        "list" => Ok(Verb::List {
            limit: sub.get_one::<u16>("limit").copied(),
            cursor: sub.get_one::<String>("cursor").cloned(),
            all: sub.get_flag("all"),
        }),
        "lock" => Ok(Verb::Act(
            Action::Lock,
            target()?,
            sub.get_one::<String>("reason").cloned(),
        )),
        "unlock" => action(Action::Unlock),
        "sign-out" => action(Action::SignOut),
        "activate" => action(Action::Activate),
        "reset" => action(Action::Reset),
        "delete" => {
            let target = target()?;
            if !sub.get_flag("yes") {
                return Err(format!(
                    "delete: deleting {target} removes the account and everything of it for \
                     good; run again with --yes to do it"
                ));
            }
            Ok(Verb::Act(Action::Delete, target, None))
        }
        "unthrottle" => match (sub.get_one::<String>("email"), sub.get_one::<String>("ip")) {
            (Some(email), _) => Ok(Verb::Unthrottle {
                key: "email",
                value: email.clone(),
            }),
            (None, Some(ip)) => Ok(Verb::Unthrottle {
                key: "ip",
                value: ip.clone(),
            }),
            (None, None) => Err("unthrottle: give --email or --ip".into()),
        },
        other => Err(format!("{other}: unknown verb")),
    }
}

/// A new admin token for `edgeauth keygen --admin-token`: 32 random bytes, base64url (43
/// characters), and a newline — a line of a token file as it is.
pub fn generate_token() -> Result<String, String> {
    use base64::Engine as _;
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number generator failed".to_owned())?;
    let mut token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    token.push('\n');
    Ok(token)
}

/// The token in a token file: its first line that is neither blank nor a `#` comment.
fn token_in(contents: &str) -> Option<&str> {
    contents
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
}

fn read_token(path: &str) -> Result<String, String> {
    let contents = std::fs::read_to_string(path)
        .map_err(|e| format!("--token-file {path}: cannot read it: {e}"))?;
    token_in(&contents).map(str::to_owned).ok_or_else(|| {
        format!("--token-file {path}: no token in it (only blank lines or comments)")
    })
}

/// Runs `edgeauth admin …`; returns the exit status.
pub fn run(m: &ArgMatches) -> ExitCode {
    let verb = match verb(m) {
        Ok(verb) => verb,
        Err(usage) => {
            eprintln!("edgeauth admin {usage}");
            return ExitCode::from(2);
        }
    };
    let Some(token_file) = m.get_one::<String>("token-file") else {
        eprintln!("edgeauth admin: --token-file FILE is required (a file holding an admin token)");
        return ExitCode::from(2);
    };
    let url = m
        .get_one::<String>("url")
        .cloned()
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let json = m.get_flag("json");
    let token = match read_token(token_file) {
        Ok(token) => token,
        Err(e) => {
            eprintln!("edgeauth admin: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = match Client::new(&url, &token) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("edgeauth admin: --token-file {token_file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edgeauth admin: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(&client, verb, json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgeauth admin: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The path of an account.
fn account_path(id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/admin/accounts/{id}")
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

/// A failure of a path that never answers 404 when the admin API is on (a page of accounts,
/// the rate limits): a 404 there means it is off, or `--url` is not an admin listener.
fn explain(f: Failure) -> String {
    if f.is_not_found() {
        format!(
            "{f}: the admin API is off on that replica (EDGEAUTH_ADMIN_TOKEN_FILES unset) or \
             --url is not its admin listener"
        )
    } else {
        f.to_string()
    }
}

fn summary_of(body: &[u8]) -> Result<Summary, String> {
    serde_json::from_slice(body).map_err(|e| format!("not an account summary: {e}"))
}

/// The account a target names, as the API's bytes and parsed.
async fn look_up(client: &Client, target: &Target) -> Result<(bytes::Bytes, Summary), String> {
    let path = match target {
        Target::Email(email) => format!("/admin/accounts?{}", query(&[("email", email)])),
        Target::Id(id) => account_path(&id.to_string()),
    };
    let body = client.send(Method::GET, &path, None).await.map_err(|f| {
        if f.is_not_found() {
            format!("no account {target} ({f})")
        } else {
            f.to_string()
        }
    })?;
    let summary = summary_of(&body)?;
    Ok((body, summary))
}

fn print_json(body: &[u8]) {
    println!("{}", String::from_utf8_lossy(body).trim_end());
}

async fn execute(client: &Client, verb: Verb, json: bool) -> Result<(), String> {
    match verb {
        Verb::Find(email) => show(client, &Target::Email(email), json).await,
        Verb::Show(target) => show(client, &target, json).await,
        Verb::List { limit, cursor, all } => list(client, limit, cursor, all, json).await,
        Verb::Act(action, target, reason) => {
            let (_, summary) = look_up(client, &target).await?;
            let path = account_path(&summary.id);
            let (method, path, body) = match action {
                Action::Delete => (Method::DELETE, path, None),
                Action::Lock => (
                    Method::POST,
                    format!("{path}/lock"),
                    Some(serde_json::json!({"reason": reason.unwrap_or_default()})),
                ),
                other => (Method::POST, format!("{path}/{}", other.verb()), None),
            };
            client
                .send(method, &path, body.as_ref())
                .await
                .map_err(|f| format!("{} {target}: {f}", action.verb()))?;
            if json {
                println!("{}", action.done_json(&summary));
            } else {
                println!("{}", action.done(&summary));
            }
            Ok(())
        }
        Verb::Unthrottle { key, value } => {
            let path = format!("/admin/rate-limits?{}", query(&[(key, &value)]));
            client
                .send(Method::DELETE, &path, None)
                .await
                .map_err(|f| format!("unthrottle {value}: {}", explain(f)))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"action": "unthrottle", key: value})
                );
            } else {
                let what = if key == "ip" { "IP" } else { "email" };
                println!("Cleared the rate limits of {what} {value}");
            }
            Ok(())
        }
    }
}

async fn show(client: &Client, target: &Target, json: bool) -> Result<(), String> {
    let (body, summary) = look_up(client, target).await?;
    if json {
        print_json(&body);
    } else {
        print!("{}", output::summary_block(&summary));
    }
    Ok(())
}

/// `list`: one page (its next cursor said on stderr), or with `all` every page — then
/// `--json` prints one object holding every account, `next_cursor` null.
async fn list(
    client: &Client,
    limit: Option<u16>,
    mut cursor: Option<String>,
    all: bool,
    json: bool,
) -> Result<(), String> {
    let limit = limit.map(|n| n.to_string());
    let mut everyone: Vec<serde_json::Value> = Vec::new();
    let mut summaries: Vec<Summary> = Vec::new();
    loop {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(limit) = &limit {
            pairs.push(("limit", limit));
        }
        if let Some(cursor) = &cursor {
            pairs.push(("cursor", cursor));
        }
        let path = if pairs.is_empty() {
            "/admin/accounts".to_owned()
        } else {
            format!("/admin/accounts?{}", query(&pairs))
        };
        let body = client
            .send(Method::GET, &path, None)
            .await
            .map_err(|f| format!("list: {}", explain(f)))?;
        let page: Page =
            serde_json::from_slice(&body).map_err(|e| format!("list: not a page: {e}"))?;
        if !all {
            if json {
                print_json(&body);
            } else {
                print!("{}", output::table(&page.accounts));
                if let Some(next) = &page.next_cursor {
                    eprintln!("more: edgeauth admin list --cursor {next} (or --all)");
                }
            }
            return Ok(());
        }
        if json {
            let raw: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| format!("list: not a page: {e}"))?;
            if let Some(accounts) = raw.get("accounts").and_then(|a| a.as_array()) {
                everyone.extend(accounts.iter().cloned());
            }
        } else {
            summaries.extend(page.accounts);
        }
        match page.next_cursor {
            Some(next) if !next.is_empty() && cursor.as_deref() != Some(next.as_str()) => {
                cursor = Some(next);
            }
            _ => break,
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"accounts": everyone, "next_cursor": null})
        );
    } else {
        print!("{}", output::table(&summaries));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn parse(args: &[&str]) -> Result<ArgMatches, clap::Error> {
        let mut argv = vec!["edgeauth", "admin"];
        argv.extend(args);
        Command::new("edgeauth")
            .subcommand(command())
            .try_get_matches_from(argv)
            .map(|m| m.subcommand_matches("admin").unwrap().clone())
    }

    fn verb_of(args: &[&str]) -> Result<Verb, String> {
        verb(&parse(args).unwrap())
    }

    const ID: &str = "3f2a9c1e-5b7d-4e0f-9a1b-2c3d4e5f6a7b";

    #[test]
    fn targets_are_emails_or_ids() {
        assert_eq!(
            parse_target("ada@example.com").unwrap(),
            Target::Email("ada@example.com".into())
        );
        assert_eq!(
            parse_target(ID).unwrap(),
            Target::Id(uuid::Uuid::parse_str(ID).unwrap())
        );
        assert!(parse_target("ada").is_err());
        assert!(parse_target("../../metrics").is_err());
    }

    #[test]
    fn verbs_parse() {
        assert_eq!(
            verb_of(&["find", "ada@example.com"]).unwrap(),
            Verb::Find("ada@example.com".into())
        );
        assert_eq!(
            verb_of(&["lock", "ada@example.com", "--reason", "left"]).unwrap(),
            Verb::Act(
                Action::Lock,
                Target::Email("ada@example.com".into()),
                Some("left".into())
            )
        );
        assert_eq!(
            verb_of(&["sign-out", ID]).unwrap(),
            Verb::Act(
                Action::SignOut,
                Target::Id(uuid::Uuid::parse_str(ID).unwrap()),
                None
            )
        );
        assert_eq!(
            verb_of(&["list", "--limit", "5", "--all"]).unwrap(),
            Verb::List {
                limit: Some(5),
                cursor: None,
                all: true
            }
        );
        assert_eq!(
            verb_of(&["unthrottle", "--ip", "203.0.113.7"]).unwrap(),
            Verb::Unthrottle {
                key: "ip",
                value: "203.0.113.7".into()
            }
        );
        assert_eq!(
            verb_of(&["delete", ID, "--yes"]).unwrap(),
            Verb::Act(
                Action::Delete,
                Target::Id(uuid::Uuid::parse_str(ID).unwrap()),
                None
            )
        );
    }

    #[test]
    fn delete_without_yes_is_refused_before_any_request() {
        let e = verb_of(&["delete", "ada@example.com"]).unwrap_err();
        assert!(e.contains("--yes"), "{e}");
        assert!(e.contains("ada@example.com"), "{e}");
    }

    #[test]
    fn global_flags_go_before_or_after_the_verb() {
        let m = parse(&[
            "--url",
            "http://10.0.0.5:9090/",
            "show",
            ID,
            "--json",
            "--token-file",
            "/t",
        ])
        .unwrap();
        assert_eq!(m.get_one::<String>("url").unwrap(), "http://10.0.0.5:9090");
        assert_eq!(m.get_one::<String>("token-file").unwrap(), "/t");
        assert!(m.get_flag("json"));
        let m = parse(&["show", ID]).unwrap();
        assert_eq!(m.get_one::<String>("url").unwrap(), DEFAULT_URL);
        assert!(!m.get_flag("json"));
    }

    #[test]
    fn usage_errors_are_claps() {
        for args in [
            &["lock", "ada@example.com"][..],                     // no --reason
            &["show", "ada"],                                     // neither email nor id
            &["list", "--limit", "0"],                            // out of range
            &["list", "--limit", "1001"],                         // out of range
            &["list", "--all", "--cursor", "x"],                  // contradictory
            &["unthrottle"],                                      // no subject
            &["unthrottle", "--email", "a@b", "--ip", "1.2.3.4"], // both
            &["show", ID, "--url", "https://x:9090"],             // no TLS
            &["frobnicate"],
        ] {
            let e = parse(args).expect_err(&format!("{args:?}"));
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn the_token_is_the_first_real_line() {
        assert_eq!(
            token_in("# the ops token\n\n  s3cr3t-token-of-enough-length  \nsecond\n"),
            Some("s3cr3t-token-of-enough-length")
        );
        assert_eq!(token_in("# nothing\n\n"), None);
        assert_eq!(token_in(""), None);
        assert!(
            read_token("/nonexistent/token")
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn generated_tokens_are_long_and_fresh() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(token_in(&a).unwrap().len(), 43);
        assert!(a.ends_with('\n'));
    }

    #[test]
    fn queries_and_paths_are_encoded() {
        assert_eq!(
            query(&[("email", "a+b@example.com")]),
            "email=a%2Bb%40example.com"
        );
        assert_eq!(account_path(ID), format!("/admin/accounts/{ID}"));
    }
}
