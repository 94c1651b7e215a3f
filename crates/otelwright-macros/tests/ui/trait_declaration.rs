use otelwright::measured;

trait Tool {
    #[measured]
    async fn call(&self, input: u32) -> Result<u32, String>;
}

fn main() {}
