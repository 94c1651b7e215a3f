//! Records the compiler version for the `process.runtime.*` resource attributes.
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let description = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "rustc unknown".to_owned());
    println!("cargo:rustc-env=OTELWRIGHT_RUSTC_DESCRIPTION={description}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
