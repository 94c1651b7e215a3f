use otelwright::measured;

struct Prompt {
    text: String,
}

#[measured(attributes(prompt = prompt))]
fn answer(prompt: &Prompt) -> usize {
    prompt.text.len()
}

fn main() {
    answer(&Prompt { text: String::new() });
}
