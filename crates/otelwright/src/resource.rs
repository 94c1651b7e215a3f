//! The resource every signal carries: detected host, OS, process and container attributes, then
//! `OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME`, then what the code set — later sources win, as the spec says.

use std::collections::BTreeMap;

use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;

use crate::config::Config;

/// Builds the resource for `config`.
pub(crate) fn build(config: &Config) -> Resource {
    let mut attrs: BTreeMap<Key, Value> = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        attrs.insert(Key::from(k.to_owned()), v);
    };
    put("service.name", Value::from(unknown_service_name()));
    put("service.instance.id", Value::from(uuid::Uuid::new_v4().to_string()));
    put("telemetry.distro.name", Value::from("otelwright"));
    put("telemetry.distro.version", Value::from(env!("CARGO_PKG_VERSION")));
    for kv in detected() {
        put(kv.key.as_str(), kv.value);
    }
    for (k, v) in &config.env_resource {
        put(k, Value::from(v.clone()));
    }
    if let Some(name) = &config.env_service_name {
        put("service.name", Value::from(name.clone()));
    }
    let code = [
        ("service.name", &config.service_name),
        ("service.version", &config.service_version),
        ("service.namespace", &config.service_namespace),
        ("deployment.environment.name", &config.deployment_environment),
    ];
    for (k, v) in code {
        if let Some(v) = v {
            put(k, Value::from(v.clone()));
        }
    }
    for kv in &config.resource_attributes {
        put(kv.key.as_str(), kv.value.clone());
    }
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attrs.into_iter().map(|(k, v)| KeyValue::new(k, v)))
        .build()
}

/// `unknown_service:<executable name>`, or `unknown_service`.
fn unknown_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map_or_else(|| "unknown_service".to_owned(), |exe| format!("unknown_service:{exe}"))
}

/// Host, OS, process and container attributes. Reads a few small files; never fails.
fn detected() -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new("host.arch", host_arch(std::env::consts::ARCH)),
        KeyValue::new("os.type", os_type(std::env::consts::OS)),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.runtime.name", "rustc"),
        KeyValue::new("process.runtime.version", rustc_version(env!("OTELWRIGHT_RUSTC_DESCRIPTION"))),
        KeyValue::new("process.runtime.description", env!("OTELWRIGHT_RUSTC_DESCRIPTION")),
    ];
    if let Ok(name) = hostname::get() {
        out.push(KeyValue::new("host.name", name.to_string_lossy().into_owned()));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(name) = exe.file_name() {
            out.push(KeyValue::new("process.executable.name", name.to_string_lossy().into_owned()));
        }
        out.push(KeyValue::new("process.executable.path", exe.to_string_lossy().into_owned()));
    }
    if let Some(desc) = os_description() {
        out.push(KeyValue::new("os.description", desc));
    }
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    if let Some(id) = container_id(&read("/proc/self/cgroup"), &read("/proc/self/mountinfo")) {
        out.push(KeyValue::new("container.id", id));
    }
    out
}

/// The semantic-conventions spelling of the CPU architecture.
fn host_arch(rust_arch: &str) -> String {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm32",
        "x86" => "x86",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
    .to_owned()
}

/// The semantic-conventions spelling of the OS type.
fn os_type(rust_os: &str) -> String {
    match rust_os {
        "macos" => "darwin",
        "illumos" | "solaris" => "solaris",
        other => other,
    }
    .to_owned()
}

/// `1.95.0` out of `rustc 1.95.0 (59807616e 2026-04-14)`.
fn rustc_version(description: &str) -> String {
    description.split_whitespace().nth(1).unwrap_or("unknown").to_owned()
}

/// `PRETTY_NAME` from os-release plus the kernel release, e.g. `Debian GNU/Linux 12 (bookworm) (Linux 6.1.0)`.
fn os_description() -> Option<String> {
    let release = std::fs::read_to_string("/etc/os-release").ok();
    let pretty = release.as_deref().and_then(|r| {
        r.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim().trim_matches('"').to_owned())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|k| k.trim().to_owned());
    match (pretty, kernel) {
        (Some(p), Some(k)) => Some(format!("{p} (Linux {k})")),
        (Some(p), None) => Some(p),
        (None, Some(k)) => Some(format!("Linux {k}")),
        (None, None) => None,
    }
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id from cgroup v1 paths (`.../docker/<id>`, `.../cri-containerd-<id>.scope`) or, on cgroup v2,
/// from the mount of `/etc/hostname` (`.../containers/<id>/hostname`).
pub(crate) fn container_id(cgroup: &str, mountinfo: &str) -> Option<String> {
    let from_segment = |segment: &str| -> Option<String> {
        let s = segment.trim_end_matches(".scope");
        let tail = s.rsplit(['-', ':']).next().unwrap_or(s);
        is_container_id(tail).then(|| tail.to_owned())
    };
    let v1 = cgroup.lines().find_map(|line| line.rsplit('/').next().and_then(from_segment));
    v1.or_else(|| {
        mountinfo.lines().filter(|l| l.contains("/hostname") || l.contains("/containers/")).find_map(|line| {
            line.split_whitespace()
                .flat_map(|field| field.split('/'))
                .find(|part| is_container_id(part))
                .map(str::to_owned)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(r: &Resource, k: &str) -> Option<String> {
        r.get(&Key::from(k.to_owned())).map(|v| v.to_string())
    }

    #[test]
    fn precedence_code_over_service_name_env_over_resource_env() {
        let c = Config::from_env_vars([
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=payments,service.version=0.9"),
            ("OTEL_SERVICE_NAME", "from-env"),
        ]);
        let r = build(&c);
        assert_eq!(attr(&r, "service.name").as_deref(), Some("from-env"));
        assert_eq!(attr(&r, "team").as_deref(), Some("payments"));
        assert_eq!(attr(&r, "service.version").as_deref(), Some("0.9"));
        let r = build(&c.service_name("from-code").service_version("1.0"));
        assert_eq!(attr(&r, "service.name").as_deref(), Some("from-code"));
        assert_eq!(attr(&r, "service.version").as_deref(), Some("1.0"));
    }

    #[test]
    fn defaults_are_detected() {
        let r = build(&Config::default());
        let name = attr(&r, "service.name").unwrap();
        assert!(name.starts_with("unknown_service:"), "{name}");
        let id = attr(&r, "service.instance.id").unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(attr(&r, "telemetry.sdk.language").as_deref(), Some("rust"));
        assert_eq!(attr(&r, "telemetry.sdk.name").as_deref(), Some("opentelemetry"));
        assert!(attr(&r, "telemetry.sdk.version").is_some());
        assert_eq!(attr(&r, "process.pid"), Some(std::process::id().to_string()));
        assert_eq!(attr(&r, "process.runtime.name").as_deref(), Some("rustc"));
        assert!(attr(&r, "process.runtime.version").unwrap().starts_with("1."));
        assert!(attr(&r, "host.name").is_some());
        assert!(attr(&r, "os.type").is_some());
    }

    #[test]
    fn env_instance_id_is_kept() {
        let r = build(&Config::from_env_vars([("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=abc")]));
        assert_eq!(attr(&r, "service.instance.id").as_deref(), Some("abc"));
    }

    #[test]
    fn arch_and_os_spellings() {
        assert_eq!(host_arch("x86_64"), "amd64");
        assert_eq!(host_arch("aarch64"), "arm64");
        assert_eq!(os_type("macos"), "darwin");
        assert_eq!(rustc_version("rustc 1.95.0 (59807616e 2026-04-14)"), "1.95.0");
    }

    #[test]
    fn container_ids() {
        let id = "a".repeat(64);
        assert_eq!(container_id(&format!("0::/system.slice/docker-{id}.scope\n"), ""), Some(id.clone()));
        assert_eq!(container_id(&format!("12:memory:/docker/{id}\n"), ""), Some(id.clone()));
        let mi =
            format!("680 671 254:1 /var/lib/docker/containers/{id}/hostname /etc/hostname rw - ext4 /dev/vda rw\n");
        assert_eq!(container_id("0::/\n", &mi), Some(id));
        assert_eq!(container_id("0::/user.slice\n", "22 1 0:21 / /proc rw - proc proc rw\n"), None);
    }
}
