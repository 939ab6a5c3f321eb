//! Helpers shared by the tests that talk to the AWS emulator.

use std::io::{Read, Write};
use std::net::TcpStream;

/// Creates a bucket on the emulator named by `AWS_ENDPOINT_URL` with a bare path-style PUT
/// (the emulator needs no signature for it; object_store cannot create buckets).
pub fn create_bucket(bucket: &str) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL names the emulator (scripts/test-all.sh starts it)");
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(stream, "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}
