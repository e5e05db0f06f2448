//! A tiny client for trying hello-service without grpcurl:
//!
//! ```text
//! cargo run -p hello-service --bin hello-client -- alice bob zoe
//! cargo run -p hello-service --bin hello-client -- --addr http://127.0.0.1:6000 alice
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::process::ExitCode;

use hello_service::proto::HelloRequest;
use hello_service::proto::greeter_client::GreeterClient;

const USAGE: &str = "usage: hello-client [--addr http://127.0.0.1:50051] NAME...";

#[boost::tokio::main(crate = "boost::tokio", flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut addr = "http://127.0.0.1:50051".to_owned();
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => match args.next() {
                Some(value) => addr = value,
                None => return usage(),
            },
            "-h" | "--help" => return usage(),
            _ => names.push(arg),
        }
    }
    if names.is_empty() {
        return usage();
    }
    let mut client = match GreeterClient::connect(addr.clone()).await {
        Ok(client) => client,
        Err(error) => {
            eprintln!("hello-client: cannot connect to {addr}: {error}; is hello-service running?");
            return ExitCode::FAILURE;
        }
    };
    let mut code = ExitCode::SUCCESS;
    for name in names {
        match client.say_hello(HelloRequest { name: name.clone() }).await {
            Ok(reply) => println!("{}", reply.into_inner().message),
            Err(status) => {
                eprintln!(
                    "hello-client: SayHello({name:?}) failed: {:?}: {}",
                    status.code(),
                    status.message()
                );
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
