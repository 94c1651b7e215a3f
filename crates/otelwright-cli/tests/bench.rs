//! `otelwright bench <name> --quick` runs each bench end to end (helper processes, load generator, receiver) and
//! prints its table. The figures are never asserted: they belong to BENCHMARKS.md, not to a test on a shared
//! machine.

use std::process::Command;

fn quick(bench: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_otelwright"))
        .args(["bench", bench, "--quick"])
        .args(extra)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "bench {bench} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("== otelwright bench {bench}")), "{stdout}");
    assert!(stdout.contains("machine: "), "{stdout}");
    assert!(stdout.contains("placement: "), "{stdout}");
    assert!(!stdout.contains("@bench"), "helper protocol lines stay between the processes: {stdout}");
    stdout
}

#[test]
fn overhead_prints_every_mode_for_each_handler() {
    let out = quick("overhead", &[]);
    for heading in ["-- hello handler", "-- realistic handler", "req/s vs bare (min / med / max)"] {
        assert!(out.contains(heading), "{heading}: {out}");
    }
    for mode in ["bare", "metrics", "traces", "everything", "stock"] {
        assert!(out.lines().any(|l| l.starts_with(mode)), "{mode}: {out}");
    }
    assert!(out.contains("everything/bare throughput"), "{out}");
    assert!(out.contains("the CPU stock adds"), "{out}");
}

#[test]
fn overhead_prints_one_json_object_per_handler_and_mode() {
    let out = Command::new(env!("CARGO_BIN_EXE_otelwright"))
        .args(["bench", "overhead", "--quick", "--handler", "hello", "--modes", "stock,everything", "--format", "json"])
        .output()
        .expect("the bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("-- hello handler"), "the tables go to stderr: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let objects: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let modes: Vec<&str> = objects.iter().map(|o| o["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["bare", "stock", "everything"], "bare always runs first: {stdout}");
    for o in &objects {
        assert_eq!(o["handler"], "hello");
        for field in ["rps", "rps_vs_bare", "cpu_us_per_req", "p99_ms", "added_cpu_us_vs_bare", "added_vs_stock"] {
            assert!(o[field].is_number(), "{field}: {o}");
        }
        assert!(o["rps"].as_f64().unwrap() > 0.0, "{o}");
    }
    assert_eq!(objects[0]["rps_vs_bare"], 1.0);
    assert_eq!(objects[1]["added_vs_stock"], 1.0);
}

#[test]
fn export_prints_each_transport_and_signal() {
    let out = quick("export", &["--compare-rps", "1000"]);
    for row in ["grpc-count", "http-count", "grpc", "http"] {
        for signal in ["spans", "logs", "metrics"] {
            assert!(
                out.lines()
                    .any(|l| l.split_whitespace().next() == Some(row) && l.split_whitespace().nth(1) == Some(signal)),
                "{row} {signal}: {out}"
            );
        }
    }
    assert!(out.contains("target >= 10x"), "{out}");
    assert!(out.contains("export CPU us/item"), "{out}");
}

#[test]
fn export_measures_its_reference_span_rate() {
    let out = quick("export", &["--protocols", "grpc-count", "--signals", "spans"]);
    assert!(out.contains("the everything-mode hello-world service's req/s measured"), "{out}");
    let row = out.lines().find(|l| l.starts_with("grpc-count")).unwrap_or_else(|| panic!("{out}"));
    let multiple: f64 = row.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(multiple > 0.0, "{row}");
}

#[test]
fn collect_prints_the_cycle_and_the_memory_tables() {
    let out = quick("collect", &[]);
    for line in ["whole cycle", "CPU per cycle", "RSS at start MiB", "the SDK adds"] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

#[test]
fn memory_prints_both_scenarios() {
    let out = quick("memory", &[]);
    assert!(out.contains("queues: 2048 spans"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("refused")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("blackhole")), "{out}");
}

#[test]
fn soak_prints_rows_and_a_summary_per_collector_state() {
    let out = quick("soak", &[]);
    assert!(out.contains("-- summary by collector state"), "{out}");
    assert!(out.lines().any(|l| l.split_whitespace().nth(1) == Some("down")), "the collector went down: {out}");
    assert!(out.contains("exporter totals"), "{out}");
}

#[test]
fn instructions_counts_a_service_under_callgrind_or_says_what_it_needs() {
    let dir = std::env::temp_dir().join(format!("otelwright-bench-instructions-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_otelwright"))
        .args(["bench", "instructions", "--quick", "--handler", "hello", "--modes", "bare", "--requests", "10,30"])
        .arg("--out-dir")
        .arg(&dir)
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let valgrind = Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if !valgrind {
        assert!(!out.status.success() && stderr.contains("needs valgrind"), "{stderr}");
        return;
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let row = stdout.lines().find(|l| l.starts_with("bare")).unwrap_or_else(|| panic!("{stdout}"));
    let per_request: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(per_request > 1000.0, "a request takes thousands of instructions: {row}");
    assert!(dir.join("callgrind.hello.bare.30.out").exists(), "the profile is kept");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn helper_modes_are_hidden_and_bad_arguments_refused() {
    let help = Command::new(env!("CARGO_BIN_EXE_otelwright")).args(["bench", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for shown in ["overhead", "export", "collect", "memory", "soak", "instructions"] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    assert!(!text.contains("serve") && !text.contains("receiver "), "helpers are hidden: {text}");
    let bad = Command::new(env!("CARGO_BIN_EXE_otelwright")).args(["bench", "soak", "--duration", "soon"]).output();
    let bad = bad.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a duration"));
}
