//! SVG bar charts from the same JSON lines as the tables (`ftpbench
//! --charts DIR FILE...`): throughput, server CPU per operation, memory per
//! idle session and stall-probe latency, one panel per scenario with its
//! own scale and unit, one bar (or a pair of bars) per server. Plain SVG
//! 1.1: rectangles, lines and text, no script, no CSS, no fonts to fetch.

use crate::table::{cpu_per_op, metric, throughput, Results};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
const COLORS: &[&str] = &[
    "#0072B2", "#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#999999", "#000000",
];
/// Opacity of each measure of a pair (solid, pale).
const OPACITY: &[f64] = &[1.0, 0.4];

struct Panel {
    title: String,
    /// `[server][measure]`: `None` is drawn as "n/a".
    values: Vec<Vec<Option<f64>>>,
    unit: String,
}

struct Chart<'a> {
    title: &'a str,
    note: &'a str,
    servers: &'a [String],
    /// Names of the bars of one server in a panel, when more than one.
    measures: &'a [&'a str],
    panels: Vec<Panel>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Short value labels that fit over a bar: 18.2k, 950, 12.5, 1.34, 0.11.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// An axis tick label with as many decimals as the step needs.
fn tick(v: f64, step: f64) -> String {
    if v >= 1e4 && step >= 1e3 {
        return short(v);
    }
    let mut d = 0;
    while d < 6 && ((step * 10f64.powi(d)).round() - step * 10f64.powi(d)).abs() > 1e-6 {
        d += 1;
    }
    format!("{v:.*}", d as usize)
}

/// A round axis top ≥ `max` and its tick step (1, 2, 2.5 or 5 × 10^n).
fn nice_axis(max: f64) -> (f64, f64) {
    if !(max > 0.0 && max.is_finite()) {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

const PANEL_H: f64 = 230.0;
const PLOT_LEFT: f64 = 52.0;
const PLOT_TOP: f64 = 30.0;
const PLOT_BOTTOM: f64 = 14.0;
const MARGIN: f64 = 16.0;

fn render(ch: &Chart) -> String {
    let n_srv = ch.servers.len().max(1);
    let n_meas = ch.measures.len().max(1);
    let panel_w = (n_srv * n_meas) as f64 * 30.0 + PLOT_LEFT + 40.0;
    // Wide enough for the longest panel title (bold 12 px: about 7.5 px a
    // character).
    let longest = ch.panels.iter().map(|p| p.title.chars().count()).max();
    let panel_w = panel_w
        .max(340.0)
        .max(20.0 + 7.5 * longest.unwrap_or(0) as f64);
    let cols = if ch.panels.len() > 1 { 2 } else { 1 };
    let width = MARGIN * 2.0 + panel_w * cols as f64 + MARGIN * (cols - 1) as f64;
    // Wide enough for the title (bold 16 px: about 9.5 px a character) and
    // the note (11 px: about 6.3).
    let width = width
        .max(MARGIN * 2.0 + 9.5 * ch.title.chars().count() as f64)
        .max(MARGIN * 2.0 + 6.3 * ch.note.chars().count() as f64);
    let panel_w = (width - MARGIN * (cols + 1) as f64) / cols as f64;

    // Legend: one swatch per server, wrapped to the width.
    let mut legend = String::new();
    let (mut lx, mut ly) = (MARGIN, 64.0);
    for (i, s) in ch.servers.iter().enumerate() {
        let w = 24.0 + 6.5 * s.chars().count() as f64;
        if lx + w > width - MARGIN && lx > MARGIN {
            lx = MARGIN;
            ly += 18.0;
        }
        let _ = writeln!(
            legend,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"12\">{}</text>",
            ly - 10.0,
            COLORS[i % COLORS.len()],
            lx + 16.0,
            esc(s)
        );
        lx += w;
    }
    if ch.measures.len() > 1 {
        ly += 18.0;
        let text: Vec<String> = ch
            .measures
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let kind = if OPACITY[i % OPACITY.len()] >= 1.0 {
                    "solid"
                } else {
                    "pale"
                };
                format!("{kind} bar: {m}")
            })
            .collect();
        let _ = writeln!(
            legend,
            "<text x=\"{MARGIN}\" y=\"{ly:.1}\" font-size=\"12\">{}</text>",
            esc(&format!("Per server: {}", text.join(", ")))
        );
    }
    let top = ly + 16.0;
    let rows = ch.panels.len().div_ceil(cols);
    let height = top + rows as f64 * (PANEL_H + MARGIN) + MARGIN;

    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">"
    );
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\">"
    );
    let _ = writeln!(out, "<title>{}</title>", esc(ch.title));
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        esc(ch.title)
    );
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"42\" font-size=\"11\" fill=\"#444444\">{}</text>",
        esc(ch.note)
    );
    out += &legend;

    for (pi, p) in ch.panels.iter().enumerate() {
        let x0 = MARGIN + (pi % cols) as f64 * (panel_w + MARGIN);
        let y0 = top + (pi / cols) as f64 * (PANEL_H + MARGIN);
        panel(&mut out, ch, p, x0, y0, panel_w);
    }
    out += "</svg>\n";
    out
}

fn panel(out: &mut String, ch: &Chart, p: &Panel, x0: f64, y0: f64, w: f64) {
    let px = x0 + PLOT_LEFT;
    let pw = w - PLOT_LEFT - 10.0;
    let py = y0 + PLOT_TOP;
    let ph = PANEL_H - PLOT_TOP - PLOT_BOTTOM;
    let _ = writeln!(
        out,
        "<g><rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{w:.1}\" height=\"{PANEL_H:.1}\" fill=\"none\" stroke=\"#cccccc\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"bold\">{}</text>",
        x0 + 8.0,
        y0 + 18.0,
        esc(&p.title)
    );
    let max = p
        .values
        .iter()
        .flatten()
        .flatten()
        .fold(0.0f64, |m, v| m.max(*v));
    // 12 % headroom so the value over the tallest bar stays in the plot.
    let (axis_top, step) = nice_axis(max * 1.12);
    let y_of = |v: f64| py + ph - (v / axis_top).clamp(0.0, 1.0) * ph;
    let mut t = 0.0;
    let mut guard = 0;
    while t <= axis_top * 1.0001 && guard < 20 {
        let y = y_of(t);
        let _ = writeln!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#444444\">{}</text>",
            px + pw,
            px - 4.0,
            y + 3.5,
            tick(t, step)
        );
        t += step;
        guard += 1;
    }
    let _ = writeln!(
        out,
        "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444444\"/>",
        py + ph,
        px + pw,
        py + ph
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#444444\" text-anchor=\"middle\" \
         transform=\"rotate(-90 {:.1} {:.1})\">{}</text>",
        x0 + 11.0,
        py + ph / 2.0,
        x0 + 11.0,
        py + ph / 2.0,
        esc(&p.unit)
    );
    let n_srv = ch.servers.len().max(1);
    let n_meas = ch.measures.len().max(1);
    let group = pw / n_srv as f64;
    let bw = group * 0.84 / n_meas as f64;
    for (si, s) in ch.servers.iter().enumerate() {
        let color = COLORS[si % COLORS.len()];
        for mi in 0..n_meas {
            let x = px + si as f64 * group + group * 0.08 + mi as f64 * bw;
            let cx = x + bw / 2.0;
            let what = match ch.measures.get(mi) {
                Some(m) if n_meas > 1 => format!("{s}, {m}"),
                _ => s.clone(),
            };
            match p.values.get(si).and_then(|v| v.get(mi)).copied().flatten() {
                Some(v) => {
                    let y = y_of(v).min(py + ph - 1.0); // at least 1 px high
                    let _ = writeln!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" \
                         fill-opacity=\"{}\" stroke=\"{color}\"><title>{}</title></rect>\
                         <text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                        bw - 1.0,
                        py + ph - y,
                        OPACITY[mi % OPACITY.len()],
                        esc(&format!("{what}: {v} {}", p.unit)),
                        y - 3.0,
                        short(v)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\" fill=\"#888888\">\
                         n/a<title>{}</title></text>",
                        py + ph - 3.0,
                        esc(&format!("{what}: no result"))
                    );
                }
            }
        }
    }
    out.push_str("</g>\n");
}

/// One panel per scenario key that has a value for at least one server.
fn panels<F>(res: &Results, keys: &[String], n_meas: usize, f: F) -> Vec<Panel>
where
    F: Fn(&str, &serde_json::Value) -> Option<(Vec<Option<f64>>, String, String)>,
{
    let mut out = Vec::new();
    for key in keys {
        let sc = res.scenario(key);
        let mut unit = String::new();
        let mut title = key.clone();
        let values: Vec<Vec<Option<f64>>> = res
            .servers
            .iter()
            .map(|s| match res.ok(s, key).ok().and_then(|r| f(sc, r)) {
                Some((v, u, t)) => {
                    unit = u;
                    title = format!("{key}{t}");
                    v
                }
                None => vec![None; n_meas],
            })
            .collect();
        if values.iter().flatten().any(Option::is_some) {
            out.push(Panel {
                title,
                values,
                unit,
            });
        }
    }
    out
}

fn write(dir: &Path, name: &str, ch: &Chart) -> io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, render(ch))?;
    Ok(path)
}

/// Write throughput.svg, cpu.svg, memory.svg and stall.svg into `dir`.
pub fn write_all(dir: &Path, files: &[PathBuf], note: &str) -> io::Result<Vec<PathBuf>> {
    let res = Results::load(files)?;
    std::fs::create_dir_all(dir)?;
    let servers = &res.servers;
    let not_idle: Vec<String> = res
        .keys
        .iter()
        .filter(|k| res.scenario(k) != "idle")
        .cloned()
        .collect();
    let mut written = Vec::new();

    let tp = panels(&res, &not_idle, 1, |sc, r| {
        let (v, unit, up) = throughput(sc, r)?;
        let dir = if up { "higher" } else { "lower" };
        Some((
            vec![Some(v)],
            unit.to_string(),
            format!(", {unit} ({dir} is better)"),
        ))
    });
    let ch = Chart {
        title: "Throughput per scenario",
        note,
        servers,
        measures: &[],
        panels: tp,
    };
    written.push(write(dir, "throughput.svg", &ch)?);

    let cpu = panels(&res, &res.keys, 1, |sc, r| {
        let (v, unit) = cpu_per_op(sc, r)?;
        Some((vec![Some(v)], unit.to_string(), format!(", {unit}")))
    });
    let ch = Chart {
        title: "Server CPU time per operation (process tree; lower is better)",
        note,
        servers,
        measures: &[],
        panels: cpu,
    };
    written.push(write(dir, "cpu.svg", &ch)?);

    let idle: Vec<String> = res
        .keys
        .iter()
        .filter(|k| res.scenario(k) == "idle")
        .cloned()
        .collect();
    let mut mem = Vec::new();
    for (k, what) in [
        ("pss_per_conn_kib", "PSS"),
        ("uss_per_conn_kib", "USS (private)"),
    ] {
        mem.extend(panels(&res, &idle, 1, |_, r| {
            let v = metric(r, k)?;
            let n = r.get("params").and_then(|p| p.get("idle")).cloned();
            let n = n.map_or("?".into(), |n| n.to_string());
            Some((
                vec![Some(v)],
                "KiB".into(),
                format!(": {what} per session, K={n}"),
            ))
        }));
    }
    let ch = Chart {
        title: "Memory per idle logged-in session (lower is better)",
        note,
        servers,
        measures: &[],
        panels: mem,
    };
    written.push(write(dir, "memory.svg", &ch)?);

    let stall = panels(&res, &res.keys, 2, |_, r| {
        metric(r, "probe_n")?;
        Some((
            vec![metric(r, "probe_p99_ms"), metric(r, "probe_max_ms")],
            "ms".into(),
            ": NOOP round trip (ms)".into(),
        ))
    });
    let ch = Chart {
        title: "Stall: one idle client's NOOP round trip while the scenario runs (lower is better)",
        note,
        servers,
        measures: &["p99", "max"],
        panels: stall,
    };
    written.push(write(dir, "stall.svg", &ch)?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::{nice_axis, short};

    #[test]
    fn axis_is_round_and_covers() {
        for max in [0.07, 1.0, 3.3, 18211.0, 449.0, 7412.0] {
            let (top, step) = nice_axis(max);
            assert!(top >= max && top <= max * 2.6, "{max}: {top}");
            assert!((top / step - (top / step).round()).abs() < 1e-9);
            assert!(top / step <= 10.0, "{max}: {top}/{step}");
        }
    }

    #[test]
    fn short_labels() {
        assert_eq!(short(18211.0), "18k");
        assert_eq!(short(1340.0), "1.3k");
        assert_eq!(short(1.34), "1.34");
        assert_eq!(short(0.111), "0.11");
        assert_eq!(short(0.0012), "0.001");
        assert_eq!(super::tick(0.025, 0.025), "0.025");
        assert_eq!(super::tick(5.0, 2.5), "5.0");
        assert_eq!(super::tick(200.0, 50.0), "200");
        assert_eq!(super::tick(20000.0, 5000.0), "20k");
    }
}
