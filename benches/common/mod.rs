//! Reads criterion's saved medians back so each bench prints its ratios against the
//! peers measured in the same run.

use std::path::PathBuf;

fn criterion_dir() -> PathBuf {
    if let Ok(home) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    PathBuf::from(target).join("criterion")
}

/// The median (ns) of `group/function` from this run's estimates.
pub(crate) fn median_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let median = text.find("\"median\"")?;
    let rest = &text[median..];
    let pe = rest.find("\"point_estimate\":")?;
    let num = &rest[pe + "\"point_estimate\":".len()..];
    let end = num.find([',', '}'])?;
    num[..end].trim().parse().ok()
}

/// Prints `ours / peer` for each pair (time ratio: below 1.0 means ours is faster).
pub(crate) fn print_ratios(group: &str, pairs: &[(&str, &str)]) {
    println!("\n== {group}: median time ratios (lower is better for the left side)");
    for (ours, peer) in pairs {
        match (median_ns(group, ours), median_ns(group, peer)) {
            (Some(a), Some(b)) if b > 0.0 => {
                println!("  {ours} / {peer} = {:.3}  ({a:.1} ns vs {b:.1} ns)", a / b)
            }
            _ => println!("  {ours} / {peer}: no estimates (filtered out?)"),
        }
    }
}
