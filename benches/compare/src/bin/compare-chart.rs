//! The side-by-side as a bar chart (SVG): grants/s per client, sequential
//! and at concurrency 32, Bearer and DPoP, from the JSON documents `run.sh`
//! keeps in its results directory.
//!
//! ```text
//! compare-chart RESULTS_DIR [--out FILE.svg] [--label TEXT] [--before RESULTS_DIR] [--before-label TEXT] [--title TEXT]
//! ```
//!
//! A bar is the median of every round of every pass (as in `report.mjs`'s
//! tables). `--before` adds the oidckit figures of an earlier run (for
//! example oidckit at an older commit, run just before in the same session)
//! beside this run's; `--label` and `--before-label` name the two oidckit
//! series (default: "oidckit COMMIT (after)" and "oidckit COMMIT (before)",
//! from each run's meta.json). The output is SVG only: it needs no font or image
//! library here, and leaves text to whatever renders it (fonts: sans-serif).

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 680;
const FONT: &str = "sans-serif";

type Res<T> = Result<T, Box<dyn Error>>;

/// Medians of grants/s keyed by (client, token type, mode), and the run's metadata.
struct Run {
    medians: HashMap<(String, String, String), f64>,
    rounds: usize,
    meta: Value,
    load: Value,
}

impl Run {
    fn load(dir: &Path) -> Res<Run> {
        let mut samples: HashMap<(String, String, String), Vec<f64>> = HashMap::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        names.sort();
        for path in &names {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if !(name.starts_with("rust-pass") || name.starts_with("node-pass"))
                || !name.ends_with(".json")
            {
                continue;
            }
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for r in doc["results"].as_array().into_iter().flatten() {
                let key = (
                    r["client"].as_str().unwrap_or_default().to_owned(),
                    r["token_type"].as_str().unwrap_or_default().to_owned(),
                    r["mode"].as_str().unwrap_or_default().to_owned(),
                );
                let rates = r["grants_per_s"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_f64);
                samples.entry(key).or_default().extend(rates);
            }
        }
        if samples.is_empty() {
            return Err(format!("{}: no rust-pass*.json or node-pass*.json", dir.display()).into());
        }
        let read = |file: &str| -> Value {
            std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null)
        };
        let rounds = samples.values().map(Vec::len).max().unwrap_or(0);
        Ok(Run {
            medians: samples.into_iter().map(|(k, v)| (k, median(v))).collect(),
            rounds,
            meta: read("meta.json"),
            load: read("load.json"),
        })
    }

    fn get(&self, client: &str, token: &str, mode: &str) -> Option<f64> {
        self.medians
            .get(&(client.into(), token.into(), mode.into()))
            .copied()
    }

    fn oidckit_rev(&self) -> Option<&str> {
        self.meta["oidckit"].as_str().filter(|r| *r != "unknown")
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// One colour of bars: a client (or oidckit of the earlier run).
struct Series {
    label: String,
    color: RGBColor,
    /// (run, client name in the JSON): the earlier run is index 1.
    run: usize,
    client: &'static str,
}

/// 50,129 -> "50.1k"; 2,397 -> "2.40k"; 950 -> "950".
fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 1_000.0 {
        format!("{:.2}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("compare-chart: {msg}");
    eprintln!("usage: compare-chart RESULTS_DIR [--out FILE.svg] [--label TEXT] [--before RESULTS_DIR] [--before-label TEXT] [--title TEXT]");
    std::process::exit(2)
}

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| usage("missing RESULTS_DIR")));
    let (mut out, mut label, mut before, mut before_label, mut title) =
        (None, None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value)),
            "--label" => label = Some(value),
            "--before" => before = Some(PathBuf::from(value)),
            "--before-label" => before_label = Some(value),
            "--title" => title = Some(value),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let out = out.unwrap_or_else(|| dir.join("compare.svg"));
    let mut runs = vec![Run::load(&dir)?];
    if let Some(b) = &before {
        runs.push(Run::load(b)?);
    }
    let run = &runs[0];

    let mut series = Vec::new();
    if runs.len() > 1 {
        let rev = |r: &Run| r.oidckit_rev().map(|s| format!(" {s}")).unwrap_or_default();
        series.push(Series {
            label: before_label.unwrap_or_else(|| format!("oidckit{} (before)", rev(&runs[1]))),
            color: RGBColor(158, 202, 225),
            run: 1,
            client: "oidckit",
        });
        series.push(Series {
            label: label.unwrap_or_else(|| format!("oidckit{} (after)", rev(run))),
            color: RGBColor(31, 119, 180),
            run: 0,
            client: "oidckit",
        });
    } else {
        series.push(Series {
            label: label.unwrap_or_else(|| "oidckit".into()),
            color: RGBColor(31, 119, 180),
            run: 0,
            client: "oidckit",
        });
    }
    series.push(Series {
        label: "bare reqwest 0.13 + serde_json (DPoP: + hand-made proof)".into(),
        color: RGBColor(127, 127, 127),
        run: 0,
        client: "reqwest",
    });
    series.push(Series {
        label: "oauth2 crate 5 (Bearer only)".into(),
        color: RGBColor(255, 127, 14),
        run: 0,
        client: "oauth2",
    });
    let node = run
        .meta
        .get("node")
        .and_then(Value::as_str)
        .map(|v| format!(", Node {v}"))
        .unwrap_or_default();
    series.push(Series {
        label: format!("openid-client 6{node}"),
        color: RGBColor(44, 160, 44),
        run: 0,
        client: "openid-client",
    });

    const SEQ: &str = "sequential";
    const C32: &str = "concurrency 32";
    let groups = [
        ("Bearer", SEQ),
        ("Bearer", C32),
        ("DPoP", SEQ),
        ("DPoP", C32),
    ];
    let value = |s: &Series, token: &str, mode: &str| runs[s.run].get(s.client, token, mode);
    let ymax = groups
        .iter()
        .flat_map(|&(t, m)| series.iter().filter_map(move |s| value(s, t, m)))
        .fold(0.0, f64::max);
    if ymax <= 0.0 {
        return Err("no grants/s in the results".into());
    }
    // Room above the tallest bar for its label and for the legend.
    let ymax = nice_ceiling(ymax * 1.3);

    let root = SVGBackend::new(&out, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(78);
    let title = title.unwrap_or_else(|| {
        "Client credentials grants per second against one static token endpoint (higher is better)".into()
    });
    head.draw(&Text::new(
        title,
        (24, 14),
        (FONT, 22).into_font().style(FontStyle::Bold),
    ))?;
    head.draw(&Text::new(
        subtitle(run),
        (24, 46),
        (FONT, 14).into_font().color(&RGBColor(60, 60, 60)),
    ))?;

    let mut chart = ChartBuilder::on(&body)
        .margin_left(16)
        .margin_right(24)
        .margin_top(8)
        .margin_bottom(8)
        .x_label_area_size(58)
        .y_label_area_size(78)
        .build_cartesian_2d(0f64..groups.len() as f64, 0f64..ymax)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&|v| {
            if *v == 0.0 {
                "0".into()
            } else {
                format!("{}k", v / 1000.0)
            }
        })
        .y_label_style((FONT, 14))
        .y_desc(format!(
            "grants/s (median of {} round{})",
            run.rounds,
            if run.rounds == 1 { "" } else { "s" }
        ))
        .axis_desc_style((FONT, 15))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()?;

    let label_style =
        TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for s in &series {
        let mut bars = Vec::new();
        let mut labels = Vec::new();
        for (g, &(token, mode)) in groups.iter().enumerate() {
            let present: Vec<&Series> = series
                .iter()
                .filter(|s| value(s, token, mode).is_some())
                .collect();
            let Some(v) = value(s, token, mode) else {
                continue;
            };
            let slot = present
                .iter()
                .position(|p| std::ptr::eq(*p, s))
                .unwrap_or(0);
            let width = 0.8 / present.len() as f64;
            let x0 = g as f64 + 0.1 + slot as f64 * width;
            let (a, b) = (x0 + width * 0.08, x0 + width * 0.92);
            bars.push(Rectangle::new([(a, 0.0), (b, v)], s.color.filled()));
            labels.push(
                EmptyElement::at(((a + b) / 2.0, v))
                    + Text::new(short(v), (0, -3), label_style.clone()),
            );
        }
        let color = s.color;
        chart
            .draw_series(bars)?
            .label(s.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        chart.draw_series(labels)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(12)
        .legend_area_size(22)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.92))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;

    // Group names under the axis, and oidckit's lead over openid-client.
    let name_style = TextStyle::from((FONT, 15).into_font().style(FontStyle::Bold))
        .pos(Pos::new(HPos::Center, VPos::Top));
    let ratio_style = (FONT, 13)
        .into_font()
        .color(&RGBColor(60, 60, 60))
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (g, &(token, mode)) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            format!("{token}, {mode}"),
            (x, y + 10),
            name_style.clone(),
        ))?;
        if let (Some(o), Some(n)) = (
            run.get("oidckit", token, mode),
            run.get("openid-client", token, mode),
        ) {
            root.draw(&Text::new(
                format!("oidckit = {:.1}× openid-client", o / n),
                (x, y + 32),
                ratio_style.clone(),
            ))?;
        }
    }
    root.present()?;
    eprintln!("compare-chart: wrote {}", out.display());
    Ok(())
}

/// The machine, the CPU split and what else ran, in one line.
fn subtitle(run: &Run) -> String {
    let m = &run.meta;
    let mut parts = Vec::new();
    if let Some(date) = m["date"].as_str() {
        parts.push(date.replace('T', " ").replace('Z', " UTC"));
    }
    if let (Some(n), Some(cpu)) = (m["cpus"].as_u64(), m["cpu"].as_str()) {
        parts.push(format!("{n} × {cpu}"));
    }
    if m["split_cores"].as_u64() == Some(1) {
        let threads = m["server_threads"].as_u64().unwrap_or(1);
        parts.push(format!(
            "server on CPU {} ({threads} thread{}), clients on CPU {}",
            m["server_cpus"].as_str().unwrap_or("?"),
            if threads == 1 { "" } else { "s" },
            m["client_cpus"].as_str().unwrap_or("?"),
        ));
    } else if m.is_object() {
        parts.push("server and clients share the CPUs".into());
    }
    let others = run.load["others_cpu_seconds"].as_f64().or_else(|| {
        Some(run.load["machine_cpu_seconds"].as_f64()? - run.load["bench_cpu_seconds"].as_f64()?)
    });
    if let (Some(others), Some(secs)) = (others, run.load["seconds"].as_f64()) {
        if secs > 0.0 {
            parts.push(format!(
                "other processes: {:.0} % of one CPU",
                (others / secs * 100.0).max(0.0)
            ));
        }
    }
    parts.push("127.0.0.1, client_secret_basic, ES256 proofs".into());
    parts.join(" · ")
}

/// A round number at or above `v` (1, 1.2, 1.5, 2, … 8 × a power of ten).
fn nice_ceiling(v: f64) -> f64 {
    let step = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * step >= v {
            return m * step;
        }
    }
    10.0 * step
}
