//! Compiles `proto/recommender.proto` with protox (a protobuf compiler written in Rust, so no system `protoc`)
//! and generates the tonic client and server with tonic-prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/recommender.proto");
    let descriptors = protox::compile(["recommender.proto"], ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
