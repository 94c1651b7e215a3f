use otelwright::measured;

#[measured(nmae = "agent.run")]
fn typo() {}

#[measured(name = agent_run)]
fn name_not_a_string() {}

#[measured(name = "")]
fn empty_name() {}

#[measured(span, span)]
fn twice() {}

#[measured(attributes(outcome = "won"))]
fn reserved_key() {}

#[measured(attributes(model = "a", model = "b"))]
fn duplicate_key() {}

#[measured(attributes(model))]
fn key_without_value() {}

fn main() {}
