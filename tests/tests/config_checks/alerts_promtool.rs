//! promtool, the authority on Prometheus configs: `promtool check config` on prometheus.yml as shipped (its
//! Prometheus 3 `otlp:` block and its rule files included), `promtool check rules` on the alert rules and `promtool
//! test rules` on their unit tests. The promtool is Prometheus 3's, built by tests/stack/build.sh (`PROMTOOL`);
//! with `CI` set a missing or older promtool fails these tests, elsewhere they print why they skipped.

use std::path::Path;
use std::process::Command;

use crate::collector_support::*;

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

#[test]
fn promtool_check_config() {
    let Some(promtool) = promtool() else { return };
    let config = "collector-config/prometheus/prometheus.yml";
    assert!(read(config).contains("\notlp:"), "prometheus.yml lost its otlp block");
    let out = run(&promtool, &["check", "config", config], &root());
    assert!(out.contains("SUCCESS"), "{out}");
    assert!(out.contains("rules found"), "check config also loaded the rule files: {out}");
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
