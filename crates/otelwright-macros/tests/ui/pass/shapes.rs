//! Every supported shape compiles, keeps its signature (lifetimes, generics, `Send` futures) and runs.

use std::future::Future;

use otelwright::measured;

#[derive(Debug)]
struct Error;

#[derive(Debug)]
struct Other;

impl From<Other> for Error {
    fn from(_: Other) -> Self {
        Error
    }
}

fn other(fail: bool) -> Result<(), Other> {
    if fail { Err(Other) } else { Ok(()) }
}

struct Agent {
    name: String,
    steps: Vec<u32>,
}

impl Agent {
    #[measured]
    fn name(&self) -> &str {
        &self.name
    }

    #[measured]
    fn name_mut(&mut self) -> &mut String {
        &mut self.name
    }

    #[measured]
    fn steps(&self) -> impl Iterator<Item = &u32> + '_ {
        self.steps.iter()
    }

    #[measured]
    fn into_name(self) -> String {
        self.name
    }

    #[measured]
    fn new(name: &str) -> Self {
        Agent { name: name.to_owned(), steps: vec![1, 2] }
    }

    #[measured(name = "agent.run", span, attributes(agent.name = self.name, steps = self.steps.len(), "x.y" = 1.5))]
    async fn run<'a>(&self, prompt: &'a str, fail: bool) -> Result<&'a str, Error> {
        other(fail)?;
        if prompt.is_empty() {
            return Err(Error);
        }
        Ok(prompt)
    }
}

trait Tool {
    async fn call(&self, input: u32) -> Result<u32, Error>;

    fn call_send(&self, input: u32) -> impl Future<Output = Result<u32, Error>> + Send;

    #[measured]
    fn describe(&self) -> &'static str {
        "tool"
    }
}

impl Tool for Agent {
    #[measured(span)]
    async fn call(&self, input: u32) -> Result<u32, Error> {
        Ok(input + self.steps.len() as u32)
    }

    #[measured]
    fn call_send(&self, input: u32) -> impl Future<Output = Result<u32, Error>> + Send {
        let steps = self.steps.len() as u32;
        async move { Ok(input + steps) }
    }
}

/// Dyn-compatible, as `#[async_trait]` writes it.
trait DynTool {
    fn invoke<'a>(&'a self, input: u32) -> std::pin::Pin<Box<dyn Future<Output = u32> + Send + 'a>>;
}

impl DynTool for Agent {
    #[measured(span)]
    fn invoke<'a>(&'a self, input: u32) -> std::pin::Pin<Box<dyn Future<Output = u32> + Send + 'a>> {
        Box::pin(async move { input + self.steps.len() as u32 })
    }
}

#[measured]
fn parse<T: std::str::FromStr>(text: &str) -> Result<T, T::Err> {
    text.parse()
}

#[measured]
fn boxed(fail: bool) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        Err("failed")?;
    }
    Ok(1)
}

#[measured]
fn unit(mut counter: u32, (a, b): (u32, u32)) {
    counter += a + b;
    let _ = counter;
}

#[measured]
#[allow(clippy::needless_lifetimes)]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

fn main() {
    let mut agent = Agent::new("a");
    assert_eq!(agent.name(), "a");
    agent.name_mut().push('b');
    assert_eq!(agent.steps().count(), 2);
    assert_eq!(block_on(assert_send(agent.run("hi", false))).unwrap(), "hi");
    assert!(block_on(agent.run("hi", true)).is_err());
    assert!(block_on(agent.run("", false)).is_err());
    assert_eq!(block_on(assert_send(agent.call(1))).unwrap(), 3);
    assert_eq!(block_on(assert_send(agent.call_send(1))).unwrap(), 3);
    assert_eq!(agent.describe(), "tool");
    let tool: &dyn DynTool = &agent;
    assert_eq!(block_on(tool.invoke(1)), 3);
    assert_eq!(parse::<u8>("7").unwrap(), 7);
    assert!(boxed(true).is_err());
    unit(1, (2, 3));
    assert_eq!(longest("ab", "c"), "ab");
    assert_eq!(agent.into_name(), "ab");
}
