use otelwright::measured;

#[measured]
struct Agent;

struct Tool;

#[measured]
impl Tool {
    fn call(&self) {}
}

#[measured]
trait Step {
    fn run(&self) {}
}

fn main() {}
