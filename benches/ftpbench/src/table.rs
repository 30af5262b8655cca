//! Markdown tables from the JSON lines written by the scenarios.

use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

struct Row {
    scenario: &'static str,
    key: &'static str,
    higher_is_better: bool,
    /// (params, tag) → label; the tag is " ($y$)" or "".
    label: fn(&Value, &str) -> String,
}

fn p(params: &Value, k: &str) -> String {
    match params.get(k) {
        Some(Value::Number(n)) => n.to_string(),
        Some(v) => v.to_string(),
        None => "?".into(),
    }
}

fn mib(params: &Value) -> String {
    params
        .get("bytes")
        .and_then(Value::as_u64)
        .map(|b| format!("{} MiB", b >> 20))
        .unwrap_or_else(|| "?".into())
}

const ROWS: &[Row] = &[
    Row {
        scenario: "retr",
        key: "mb_per_s",
        higher_is_better: true,
        label: |q, t| format!("RETR{t} {} file, one stream (MB/s)", mib(q)),
    },
    Row {
        scenario: "stor",
        key: "mb_per_s",
        higher_is_better: true,
        label: |q, t| format!("STOR{t} {}, one stream (MB/s)", mib(q)),
    },
    Row {
        scenario: "logins",
        key: "logins_per_s",
        higher_is_better: true,
        label: |q, t| {
            let what = if t.contains("TLS") {
                "connect, AUTH TLS, USER, PASS, QUIT"
            } else {
                "connect, USER, PASS, QUIT"
            };
            format!("Logins/s{t}, {} clients ({what})", p(q, "clients"))
        },
    },
    Row {
        scenario: "small",
        key: "transfers_per_s",
        higher_is_better: true,
        label: |q, t| {
            format!(
                "Small-file RETR/s{t}, {} clients, {} B, fresh PASV each",
                p(q, "clients"),
                p(q, "bytes_per_transfer")
            )
        },
    },
    Row {
        scenario: "small",
        key: "p50_ms",
        higher_is_better: false,
        label: |_, t| format!("Small-file RETR latency{t} p50 (ms)"),
    },
    Row {
        scenario: "small",
        key: "p99_ms",
        higher_is_better: false,
        label: |_, t| format!("Small-file RETR latency{t} p99 (ms)"),
    },
    Row {
        scenario: "idle",
        key: "rss_per_conn_kib",
        higher_is_better: false,
        label: |q, t| {
            format!(
                "Memory per idle logged-in connection{t}, RSS sum, K={} (KiB)",
                p(q, "idle")
            )
        },
    },
    Row {
        scenario: "idle",
        key: "pss_per_conn_kib",
        higher_is_better: false,
        label: |q, t| {
            format!(
                "Memory per idle logged-in connection{t}, PSS sum, K={} (KiB)",
                p(q, "idle")
            )
        },
    },
    Row {
        scenario: "idle",
        key: "uss_per_conn_kib",
        higher_is_better: false,
        label: |q, t| {
            format!(
                "Memory per idle logged-in connection{t}, USS (private) sum, K={} (KiB)",
                p(q, "idle")
            )
        },
    },
    Row {
        scenario: "list",
        key: "median_ms",
        higher_is_better: false,
        label: |q, t| format!("LIST{t} of {} entries, median (ms)", p(q, "entries")),
    },
    Row {
        scenario: "mlsd",
        key: "median_ms",
        higher_is_better: false,
        label: |q, t| format!("MLSD{t} of {} entries, median (ms)", p(q, "entries")),
    },
];

/// Rows printed under a scenario's first row for FTPS runs only (keys
/// whose tag has "TLS"), so the plain tables keep their shape: the server's
/// CPU per unit of work, and for logins the share of resumed handshakes.
struct Extra {
    scenario: &'static str,
    label: &'static str,
    higher_is_better: bool,
    value: fn(&Value) -> Option<f64>,
}

fn cpu_s(r: &Value) -> Option<f64> {
    r.get("server_cpu_s").and_then(Value::as_f64)
}

/// Server CPU seconds per GiB moved (all repetitions).
fn cpu_per_gib(r: &Value) -> Option<f64> {
    let gib = param(r, "bytes")? * param(r, "reps")? / (1u64 << 30) as f64;
    (gib > 0.0).then(|| cpu_s(r).map(|c| c / gib)).flatten()
}

const EXTRAS: &[Extra] = &[
    Extra {
        scenario: "retr",
        label: "server CPU per GiB (s)",
        higher_is_better: false,
        value: cpu_per_gib,
    },
    Extra {
        scenario: "stor",
        label: "server CPU per GiB (s)",
        higher_is_better: false,
        value: cpu_per_gib,
    },
    Extra {
        scenario: "retr",
        label: "data handshakes not resumed (of the reps)",
        higher_is_better: false,
        value: |r| metric(r, "data_full_handshakes"),
    },
    Extra {
        scenario: "stor",
        label: "data handshakes not resumed (of the reps)",
        higher_is_better: false,
        value: |r| metric(r, "data_full_handshakes"),
    },
    Extra {
        scenario: "logins",
        label: "server CPU per login (µs)",
        higher_is_better: false,
        value: |r| {
            let n = metric(r, "count")?;
            (n > 0.0).then(|| cpu_s(r).map(|c| c * 1e6 / n)).flatten()
        },
    },
    Extra {
        scenario: "logins",
        label: "handshakes the server resumed (%)",
        higher_is_better: true,
        value: |r| metric(r, "resumed_pct"),
    },
];

pub const SCENARIOS: &[&str] = &["retr", "stor", "logins", "small", "idle", "list", "mlsd"];

pub fn fmt(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn clean(e: &str) -> String {
    e.replace('|', "/").replace('\n', " ")
}

/// Numbered notes for the failures, so a cell says "n/a [2]" and the
/// reason is written once under the table.
#[derive(Default)]
struct Notes(Vec<(String, String)>);

impl Notes {
    /// One table row's cells: the base server's value, the others' with
    /// their ratio to it, "—" where the scenario did not run, and a note
    /// mark where it failed.
    fn cells(
        &mut self,
        servers: &[String],
        base: &str,
        key: &str,
        value: impl Fn(&str) -> Result<f64, String>,
    ) -> Vec<String> {
        let b = value(base).ok();
        servers
            .iter()
            .map(|s| match value(s) {
                Err(e) if e == "not run" => "—".to_string(),
                Err(e) => self.mark(s, &format!("{key}: {e}")),
                Ok(v) if s == base => fmt(v),
                Ok(v) => with_ratio(v, b),
            })
            .collect()
    }

    fn mark(&mut self, server: &str, text: &str) -> String {
        let key = (server.to_string(), clean(text));
        let n = match self.0.iter().position(|k| *k == key) {
            Some(i) => i + 1,
            None => {
                self.0.push(key);
                self.0.len()
            }
        };
        format!("n/a [{n}]")
    }

    fn print(&self) {
        if !self.0.is_empty() {
            println!();
            for (i, (server, text)) in self.0.iter().enumerate() {
                println!("- [{}] {server}: {text}", i + 1);
            }
        }
    }
}

/// The JSON lines of one or more runs, by server and scenario key: the
/// scenario's name, or with a `--tag` "name (tag)", e.g. `logins ($y$)`.
/// A later line for the same server and key replaces an earlier one.
pub struct Results {
    /// In order of first appearance.
    pub servers: Vec<String>,
    /// Scenario keys in the order of [`SCENARIOS`], the tags of one
    /// scenario in order of first appearance.
    pub keys: Vec<String>,
    scenario: HashMap<String, String>,
    recs: HashMap<(String, String), Value>,
}

impl Results {
    pub fn load(files: &[PathBuf]) -> io::Result<Results> {
        let mut servers: Vec<String> = Vec::new();
        let mut seen: Vec<(String, String)> = Vec::new(); // (key, scenario)
        let mut recs = HashMap::new();
        for f in files {
            let text = std::fs::read_to_string(f)?;
            for line in text.lines() {
                let line = line.trim().trim_start_matches("JSON ").trim();
                if !line.starts_with('{') {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let (Some(s), Some(sc)) = (
                    v.get("server").and_then(Value::as_str),
                    v.get("scenario").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let key = match v.get("tag").and_then(Value::as_str) {
                    Some(t) => format!("{sc} ({t})"),
                    None => sc.to_string(),
                };
                if !servers.iter().any(|x| x == s) {
                    servers.push(s.to_string());
                }
                if !seen.iter().any(|(k, _)| *k == key) {
                    seen.push((key.clone(), sc.to_string()));
                }
                recs.insert((s.to_string(), key), v);
            }
        }
        if servers.is_empty() {
            return Err(io::Error::other("no results in the files"));
        }
        let mut keys = Vec::new();
        for sc in SCENARIOS {
            keys.extend(seen.iter().filter(|(_, s)| s == sc).map(|(k, _)| k.clone()));
        }
        Ok(Results {
            servers,
            keys,
            scenario: seen.into_iter().collect(),
            recs,
        })
    }

    pub fn get(&self, server: &str, key: &str) -> Option<&Value> {
        self.recs.get(&(server.to_string(), key.to_string()))
    }

    /// The scenario a key belongs to (`logins` for `logins ($y$)`).
    pub fn scenario<'a>(&'a self, key: &'a str) -> &'a str {
        self.scenario.get(key).map_or(key, String::as_str)
    }

    /// " (tag)" of a key, or "".
    pub fn tag_suffix<'a>(&self, key: &'a str) -> &'a str {
        &key[self.scenario(key).len()..]
    }

    /// The record of a run that succeeded, or why there is none ("not run"
    /// when there is no record at all).
    pub fn ok(&self, server: &str, key: &str) -> Result<&Value, String> {
        match self.get(server, key) {
            None => Err("not run".into()),
            Some(r) if r.get("ok") != Some(&Value::Bool(true)) => Err(r
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("failed")
                .to_string()),
            Some(r) => Ok(r),
        }
    }
}

pub fn metric(r: &Value, k: &str) -> Option<f64> {
    r.get("metrics")
        .and_then(|m| m.get(k))
        .and_then(Value::as_f64)
}

fn param(r: &Value, k: &str) -> Option<f64> {
    r.get("params")
        .and_then(|m| m.get(k))
        .and_then(Value::as_f64)
}

/// A scenario's own throughput: value, unit, whether higher is better.
pub fn throughput(scenario: &str, r: &Value) -> Option<(f64, &'static str, bool)> {
    match scenario {
        "retr" | "stor" => Some((metric(r, "mb_per_s")?, "MB/s", true)),
        "logins" => Some((metric(r, "logins_per_s")?, "logins/s", true)),
        "small" => Some((metric(r, "transfers_per_s")?, "files/s", true)),
        "list" | "mlsd" => Some((metric(r, "median_ms")?, "ms per listing", false)),
        "idle" => {
            let (n, s) = (metric(r, "opened")?, metric(r, "login_all_s")?);
            (s > 0.0).then_some((n / s, "sessions opened/s", true))
        }
        _ => None,
    }
}

/// The server's CPU time per operation of a scenario: value and unit.
pub fn cpu_per_op(scenario: &str, r: &Value) -> Option<(f64, &'static str)> {
    let cpu = r.get("server_cpu_s").and_then(Value::as_f64)?;
    let per = |n: f64, scale: f64, unit| (n > 0.0).then(|| (cpu * scale / n, unit));
    match scenario {
        "retr" | "stor" => per(
            param(r, "bytes")? * param(r, "reps")? / 1e9,
            1.0,
            "CPU s per GB",
        ),
        "logins" => per(metric(r, "count")?, 1e6, "CPU µs per login"),
        "small" => per(metric(r, "count")?, 1e6, "CPU µs per file"),
        "idle" => per(metric(r, "opened")?, 1e3, "CPU ms per connection"),
        "list" | "mlsd" => per(param(r, "reps")?, 1e3, "CPU ms per listing"),
        _ => None,
    }
}

/// "1.23 (0.45×)" against the base value.
fn with_ratio(v: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b != 0.0 => {
            let r = v / b;
            let r = if r >= 10.0 {
                format!("{r:.0}")
            } else if r >= 0.1 {
                format!("{r:.2}")
            } else {
                format!("{r:.3}")
            };
            format!("{} ({r}×)", fmt(v))
        }
        _ => fmt(v),
    }
}

fn header(servers: &[String], base: Option<&str>) {
    let names: Vec<String> = servers
        .iter()
        .map(|s| match base {
            Some(b) if b == s => format!("**{s}** (base)"),
            _ => s.clone(),
        })
        .collect();
    println!("| Scenario | {} |", names.join(" | "));
    println!("|---|{}", "---:|".repeat(servers.len()));
}

pub fn print(files: &[PathBuf], base: Option<&str>) -> io::Result<()> {
    let res = Results::load(files)?;
    let servers = &res.servers;
    let base = base
        .map(str::to_string)
        .unwrap_or_else(|| servers[0].clone());
    let mut notes = Notes::default();

    header(servers, Some(&base));
    for row in ROWS {
        for key in res.keys.iter().filter(|k| res.scenario(k) == row.scenario) {
            // Any successful record gives the parameters for the label.
            let params = servers
                .iter()
                .find_map(|s| res.ok(s, key).ok())
                .and_then(|r| r.get("params").cloned())
                .unwrap_or(Value::Null);
            let cells = notes.cells(servers, &base, key, |s| {
                metric(res.ok(s, key)?, row.key).ok_or_else(|| "not run".into())
            });
            let arrow = if row.higher_is_better { "↑" } else { "↓" };
            println!(
                "| {} {arrow} | {} |",
                (row.label)(&params, res.tag_suffix(key)),
                cells.join(" | ")
            );
            let first_of_scenario = ROWS.iter().position(|r| r.scenario == row.scenario)
                == ROWS.iter().position(|r| std::ptr::eq(r, row));
            if !first_of_scenario || !res.tag_suffix(key).contains("TLS") {
                continue;
            }
            for x in EXTRAS.iter().filter(|x| x.scenario == row.scenario) {
                let cells = notes.cells(servers, &base, key, |s| {
                    (x.value)(res.ok(s, key)?).ok_or_else(|| "not run".into())
                });
                let arrow = if x.higher_is_better { "↑" } else { "↓" };
                println!(
                    "| {}{}: {} {arrow} | {} |",
                    row.scenario.to_uppercase().replace("LOGINS", "Logins"),
                    res.tag_suffix(key),
                    x.label,
                    cells.join(" | ")
                );
            }
        }
    }
    println!();
    println!("↑ higher is better, ↓ lower is better; (r×) = value ÷ {base}'s value.");
    notes.print();

    println!();
    println!("CPU seconds used during each scenario, server process tree / ftpbench itself (wall seconds):");
    println!();
    header(servers, None);
    for key in &res.keys {
        let cells: Vec<String> = servers
            .iter()
            .map(|s| match res.get(s, key) {
                None => "—".into(),
                Some(r) => {
                    let f = |k: &str| r.get(k).and_then(Value::as_f64);
                    match (f("server_cpu_s"), f("gen_cpu_s"), f("wall_s")) {
                        (Some(a), Some(g), Some(w)) => {
                            format!("{} / {} ({})", fmt(a), fmt(g), fmt(w))
                        }
                        (None, Some(g), Some(w)) => format!("? / {} ({})", fmt(g), fmt(w)),
                        _ => "—".into(),
                    }
                }
            })
            .collect();
        println!("| {key} | {} |", cells.join(" | "));
    }
    print_stall(&res);
    Ok(())
}

/// The stall table, when the runs had `--probe`: per scenario and server,
/// the probe's NOOP round trip p50 / p99 / max and the scenario's own
/// throughput.
fn print_stall(res: &Results) {
    let probed = |k: &String| {
        res.servers
            .iter()
            .any(|s| res.get(s, k).and_then(|r| metric(r, "probe_n")).is_some())
    };
    let keys: Vec<&String> = res.keys.iter().filter(|k| probed(k)).collect();
    if keys.is_empty() {
        return;
    }
    let mut notes = Notes::default();
    println!();
    println!(
        "Stall probe: while each scenario ran, one more logged-in client sent NOOP every \
         10 ms; its round trip p50 / p99 / max (ms) · the scenario's own throughput:"
    );
    println!();
    header(&res.servers, None);
    for key in keys {
        let sc = res.scenario(key);
        let mut unit = "";
        let cells: Vec<String> = res
            .servers
            .iter()
            .map(|s| {
                let r = match res.ok(s, key) {
                    Ok(r) => r,
                    Err(e) if e == "not run" => return "—".into(),
                    Err(e) => return notes.mark(s, &format!("{key}: {e}")),
                };
                let lat = match (
                    metric(r, "probe_p50_ms"),
                    metric(r, "probe_p99_ms"),
                    metric(r, "probe_max_ms"),
                ) {
                    (Some(a), Some(b), Some(c)) => format!("{} / {} / {}", fmt(a), fmt(b), fmt(c)),
                    _ => "no probe".into(),
                };
                let errs = metric(r, "probe_errors").unwrap_or(0.0);
                let lat = if errs > 0.0 {
                    let why = r
                        .get("metrics")
                        .and_then(|m| m.get("probe_first_error"))
                        .and_then(Value::as_str)
                        .unwrap_or("probe error");
                    format!("{lat} {}", notes.mark(s, &format!("{key}: probe: {why}")))
                } else {
                    lat
                };
                match throughput(sc, r) {
                    Some((v, u, _)) => {
                        unit = u;
                        format!("{lat} · {}", fmt(v))
                    }
                    None => lat,
                }
            })
            .collect();
        let label = if unit.is_empty() {
            key.to_string()
        } else {
            format!("{key} · {unit}")
        };
        println!("| {label} | {} |", cells.join(" | "));
    }
    notes.print();
}
