//! health-agent and recommender on the embedded defaults (an SQLite file in a temporary directory, the moka
//! cache): one chat request is one trace across both services, its logs carry the trace id, and the pool, cache
//! and resource meters reach the receiver. See `examples_support` for the checks.

mod examples_support;

use examples_support::{Expect, one_chat_one_trace, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_both_services_on_sqlite_and_moka() {
    let stack = start("examples-embedded", None, None).await;
    one_chat_one_trace(&stack, &Expect { db_system: "sqlite", db_server: None, redis: false }).await;
    stack.stop().await;
}
