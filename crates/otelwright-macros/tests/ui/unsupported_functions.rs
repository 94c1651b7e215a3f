use otelwright::measured;

#[measured]
const fn answer() -> u32 {
    42
}

#[measured]
extern "C" fn callback() {}

#[measured]
unsafe fn raw() {}

#[measured]
fn forever() -> ! {
    loop {}
}

fn main() {}
