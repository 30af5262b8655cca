//! Markdown tables from the JSON lines written by the scenarios.

use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

struct Row {
    scenario: &'static str,
    key: &'static str,
    higher_is_better: bool,
    label: fn(&Value) -> String,
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
        label: |q| format!("RETR {} file, one stream (MB/s)", mib(q)),
    },
    Row {
        scenario: "stor",
        key: "mb_per_s",
        higher_is_better: true,
        label: |q| format!("STOR {}, one stream (MB/s)", mib(q)),
    },
    Row {
        scenario: "logins",
        key: "logins_per_s",
        higher_is_better: true,
        label: |q| {
            format!(
                "Logins/s, {} clients (connect, USER, PASS, QUIT)",
                p(q, "clients")
            )
        },
    },
    Row {
        scenario: "small",
        key: "transfers_per_s",
        higher_is_better: true,
        label: |q| {
            format!(
                "Small-file RETR/s, {} clients, {} B, fresh PASV each",
                p(q, "clients"),
                p(q, "bytes_per_transfer")
            )
        },
    },
    Row {
        scenario: "small",
        key: "p50_ms",
        higher_is_better: false,
        label: |_| "Small-file RETR latency p50 (ms)".into(),
    },
    Row {
        scenario: "small",
        key: "p99_ms",
        higher_is_better: false,
        label: |_| "Small-file RETR latency p99 (ms)".into(),
    },
    Row {
        scenario: "idle",
        key: "rss_per_conn_kib",
        higher_is_better: false,
        label: |q| {
            format!(
                "Memory per idle logged-in connection, RSS sum, K={} (KiB)",
                p(q, "idle")
            )
        },
    },
    Row {
        scenario: "idle",
        key: "pss_per_conn_kib",
        higher_is_better: false,
        label: |q| {
            format!(
                "Memory per idle logged-in connection, PSS sum, K={} (KiB)",
                p(q, "idle")
            )
        },
    },
    Row {
        scenario: "idle",
        key: "uss_per_conn_kib",
        higher_is_better: false,
        label: |q| {
            format!(
                "Memory per idle logged-in connection, USS (private) sum, K={} (KiB)",
                p(q, "idle")
            )
        },
    },
    Row {
        scenario: "list",
        key: "median_ms",
        higher_is_better: false,
        label: |q| format!("LIST of {} entries, median (ms)", p(q, "entries")),
    },
    Row {
        scenario: "mlsd",
        key: "median_ms",
        higher_is_better: false,
        label: |q| format!("MLSD of {} entries, median (ms)", p(q, "entries")),
    },
];

const SCENARIOS: &[&str] = &["retr", "stor", "logins", "small", "idle", "list", "mlsd"];

fn fmt(v: f64) -> String {
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
}

pub fn print(files: &[PathBuf], base: Option<&str>) -> io::Result<()> {
    let mut servers: Vec<String> = Vec::new();
    let mut recs: HashMap<(String, String), Value> = HashMap::new();
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
            if !servers.iter().any(|x| x == s) {
                servers.push(s.to_string());
            }
            recs.insert((s.to_string(), sc.to_string()), v);
        }
    }
    if servers.is_empty() {
        return Err(io::Error::other("no results in the files"));
    }
    let base = base
        .map(str::to_string)
        .unwrap_or_else(|| servers[0].clone());
    let get = |s: &str, sc: &str| recs.get(&(s.to_string(), sc.to_string()));
    let mut notes = Notes::default();

    println!(
        "| Scenario | {} |",
        servers
            .iter()
            .map(|s| if *s == base {
                format!("**{s}** (base)")
            } else {
                s.clone()
            })
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---:|".repeat(servers.len()));
    for row in ROWS {
        // Any successful record gives the parameters for the label.
        let params = servers
            .iter()
            .filter_map(|s| get(s, row.scenario))
            .find(|r| r.get("ok") == Some(&Value::Bool(true)))
            .and_then(|r| r.get("params").cloned());
        if params.is_none() && servers.iter().all(|s| get(s, row.scenario).is_none()) {
            continue;
        }
        let params = params.unwrap_or(Value::Null);
        let value = |s: &str| -> Result<f64, String> {
            match get(s, row.scenario) {
                None => Err("not run".into()),
                Some(r) if r.get("ok") != Some(&Value::Bool(true)) => Err(r
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("failed")
                    .to_string()),
                Some(r) => r
                    .get("metrics")
                    .and_then(|m| m.get(row.key))
                    .and_then(Value::as_f64)
                    .ok_or_else(|| "not run".into()),
            }
        };
        let b = value(&base).ok();
        let cells: Vec<String> = servers
            .iter()
            .map(|s| match value(s) {
                Err(e) if e == "not run" => "—".to_string(),
                Err(e) => notes.mark(s, &e),
                Ok(v) => match b {
                    Some(b) if b != 0.0 && *s != base => {
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
                },
            })
            .collect();
        let arrow = if row.higher_is_better { "↑" } else { "↓" };
        println!(
            "| {} {arrow} | {} |",
            (row.label)(&params),
            cells.join(" | ")
        );
    }
    println!();
    println!("↑ higher is better, ↓ lower is better; (r×) = value ÷ {base}'s value.");
    if !notes.0.is_empty() {
        println!();
        for (i, (server, text)) in notes.0.iter().enumerate() {
            println!("- [{}] {server}: {text}", i + 1);
        }
    }
    println!();
    println!("CPU seconds used during each scenario, server process tree / ftpbench itself (wall seconds):");
    println!();
    println!("| Scenario | {} |", servers.join(" | "));
    println!("|---|{}", "---:|".repeat(servers.len()));
    for sc in SCENARIOS {
        if servers.iter().all(|s| get(s, sc).is_none()) {
            continue;
        }
        let cells: Vec<String> = servers
            .iter()
            .map(|s| match get(s, sc) {
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
        println!("| {sc} | {} |", cells.join(" | "));
    }
    Ok(())
}
