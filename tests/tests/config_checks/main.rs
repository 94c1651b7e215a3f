//! The checks on `collector-config/` (collector configs, Prometheus rules and promtool tests, Alertmanager,
//! dashboards, thresholds, the healthcheck binary) as one test binary: one build and link instead of seven. Each
//! module is one file of checks; `collector-config/README.md` says which checks what.

#[path = "../collector_support/mod.rs"]
mod collector_support;
#[allow(dead_code, unreachable_pub)]
#[path = "../../../collector-config/healthcheck/healthcheck.rs"]
mod healthcheck;

mod alerts_promtool;
mod alerts_rules;
mod collector_config;
mod collector_healthcheck;
mod collector_stack;
mod dashboards_grafana;
mod dashboards_thresholds;
