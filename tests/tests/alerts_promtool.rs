//! promtool, the authority on Prometheus configs: `promtool check config` on prometheus.yml, `promtool check
//! rules` on the alert rules and `promtool test rules` on their unit tests. With `CI` set a missing promtool fails
//! these tests (.ci/run installs Debian's `prometheus` package); elsewhere they print why they skipped.
//!
//! Debian bookworm ships promtool 2.42, which predates Prometheus 3's top-level `otlp:` block. `check config`
//! therefore runs on a copy without that block (collector_stack.rs checks its keys against Prometheus 3's
//! OTLPConfig); everything else in the file, the rules and the tests are checked as they are.

mod collector_support;

use std::path::Path;
use std::process::Command;

use collector_support::*;

fn run(promtool: &Path, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(promtool)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", promtool.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// prometheus.yml without its top-level `otlp:` block (lines from `otlp:` to the next top-level key).
fn without_otlp_block(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let top_level = !line.is_empty() && !line.starts_with(' ') && !line.starts_with('#');
        if top_level {
            skipping = line.starts_with("otlp:");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn promtool_check_config() {
    let Some(promtool) = promtool() else { return };
    let dir = temp_dir("promtool-config");
    let config = read("collector-config/prometheus/prometheus.yml");
    let stripped = without_otlp_block(&config);
    assert!(!stripped.contains("\notlp:") && stripped.contains("scrape_configs:"));
    assert!(config.contains("\notlp:"), "prometheus.yml lost its otlp block");
    std::fs::write(dir.join("prometheus.yml"), stripped).unwrap();
    // rule_files are relative to the config file: give the copy the real rules.
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    for rel in files_under("collector-config/prometheus/rules", &[".yml"]) {
        let name = Path::new(&rel).file_name().unwrap();
        std::fs::copy(root().join(&rel), dir.join("rules").join(name)).unwrap();
    }
    let out = run(&promtool, &["check", "config", "prometheus.yml"], &dir);
    assert!(out.contains("SUCCESS"), "{out}");
    assert!(out.contains("rules found"), "check config also loaded the rule files: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn promtool_check_rules() {
    let Some(promtool) = promtool() else { return };
    let files = files_under("collector-config/prometheus/rules", &[".yml"]);
    let mut args = vec!["check", "rules"];
    args.extend(files.iter().map(String::as_str));
    let out = run(&promtool, &args, &root());
    assert_eq!(out.matches("SUCCESS").count(), files.len(), "{out}");
}

#[test]
fn promtool_test_rules() {
    let Some(promtool) = promtool() else { return };
    let files = files_under("collector-config/prometheus/tests", &[".test.yml"]);
    assert!(!files.is_empty());
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    let out = run(&promtool, &args, &root());
    assert!(out.contains("SUCCESS") && !out.contains("FAILED"), "{out}");
}

#[test]
fn stripping_keeps_everything_but_the_otlp_block() {
    let text = "global:\n  a: 1\n# c\notlp:\n  promote_resource_attributes:\n    - x\nstorage:\n  tsdb: {}\n";
    assert_eq!(without_otlp_block(text), "global:\n  a: 1\n# c\nstorage:\n  tsdb: {}\n");
}
