//! The wire contract of `hello.v1` (shared/design.md): callers in other
//! languages compile their own copy of the proto, so a renamed service or a
//! renumbered field must fail here, not in production.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use boost::prost::Message;
use hello_service::proto::{
    GetProfileRequest, HelloReply, HelloRequest, Profile, greeter_server, profiles_server,
};

#[test]
fn services_keep_their_full_names() {
    assert_eq!(greeter_server::SERVICE_NAME, "hello.v1.Greeter");
    assert_eq!(profiles_server::SERVICE_NAME, "hello.v1.Profiles");
}

/// Field `number` as a length-delimited string: tag `(number << 3) | 2`, length, bytes.
fn field(number: u8, text: &str) -> Vec<u8> {
    let mut bytes = vec![(number << 3) | 2, u8::try_from(text.len()).unwrap()];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

#[test]
fn messages_keep_their_field_numbers_and_types() {
    let hello = HelloRequest { name: "ada".into() };
    assert_eq!(hello.encode_to_vec(), field(1, "ada"));
    let reply = HelloReply {
        message: "Bonjour, ada!".into(),
    };
    assert_eq!(reply.encode_to_vec(), field(1, "Bonjour, ada!"));
    let lookup = GetProfileRequest { name: "ada".into() };
    assert_eq!(lookup.encode_to_vec(), field(1, "ada"));
    let profile = Profile {
        name: "ada".into(),
        language: "fr".into(),
    };
    assert_eq!(
        profile.encode_to_vec(),
        [field(1, "ada"), field(2, "fr")].concat()
    );
    // And a peer's bytes decode into the same fields.
    let decoded = Profile::decode(&[field(2, "de"), field(1, "bo")].concat()[..]).unwrap();
    assert_eq!(
        (decoded.name.as_str(), decoded.language.as_str()),
        ("bo", "de")
    );
}
