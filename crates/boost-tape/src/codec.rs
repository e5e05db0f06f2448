//! [`Codec`]: gRPC frames ⇄ readable JSON, through the protos' descriptors.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};
use serde_json::Value;

/// Why a message could not be turned into JSON or back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The descriptors do not know the method.
    #[error(
        "method {0} is not in the client's descriptors: give the client the descriptor set of \
         the protos it calls (`FULL_FILE_DESCRIPTOR_SET` from `boost::include_proto!`)"
    )]
    UnknownMethod(String),
    /// The descriptor set does not decode.
    #[error("the descriptor set does not decode: {0}")]
    Descriptors(String),
    /// A frame is not a well-formed gRPC length-prefixed message.
    #[error("malformed gRPC frame: {0}")]
    Malformed(&'static str),
    /// A compressed message: tapes hold uncompressed messages only.
    #[error("compressed gRPC message: turn compression off for a taped client")]
    Compressed,
    /// A message is over the limit.
    #[error("a gRPC message of {size} bytes is over the tape's max_message_size of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a message of the method's type, or JSON does not fit it.
    #[error("message of type {message}: {why}")]
    Message {
        /// The message type.
        message: String,
        /// What is wrong.
        why: String,
    },
}

/// Decodes and encodes the messages of the methods in a descriptor pool.
///
/// JSON uses the proto field names (`display_name`, not `displayName`) and
/// leaves fields at their default value out, so equal messages have one
/// JSON form.
#[derive(Debug, Clone)]
pub struct Codec {
    pool: DescriptorPool,
    max_message_bytes: usize,
}

impl Codec {
    /// A codec over the encoded `FileDescriptorSet`s `sets` (a file in
    /// several sets is taken from the first), refusing messages over
    /// `max_message_bytes`.
    ///
    /// # Errors
    /// [`FrameError::Descriptors`] when a set does not decode.
    pub fn new(sets: &[&[u8]], max_message_bytes: usize) -> Result<Self, FrameError> {
        let mut pool = DescriptorPool::new();
        for set in sets {
            pool.decode_file_descriptor_set(*set)
                .map_err(|e| FrameError::Descriptors(e.to_string()))?;
        }
        Ok(Self {
            pool,
            max_message_bytes,
        })
    }

    /// The descriptors.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    fn types(&self, method: &str) -> Result<(MessageDescriptor, MessageDescriptor), FrameError> {
        let unknown = || FrameError::UnknownMethod(method.to_owned());
        let (service, name) = method.split_once('/').ok_or_else(unknown)?;
        let service = self.pool.get_service_by_name(service).ok_or_else(unknown)?;
        let method = service
            .methods()
            .find(|m| m.name() == name)
            .ok_or_else(unknown)?;
        Ok((method.input(), method.output()))
    }

    /// The request messages of `method` in `body` (gRPC frames), as JSON.
    ///
    /// # Errors
    /// [`FrameError`] for an unknown method, a malformed, compressed or
    /// oversized frame, or bytes that are not the request type.
    pub fn decode_request(&self, method: &str, body: &[u8]) -> Result<Vec<Value>, FrameError> {
        let (input, _) = self.types(method)?;
        self.decode(&input, body)
    }

    /// The response messages of `method` in `body`, as JSON.
    ///
    /// # Errors
    /// As [`decode_request`](Self::decode_request).
    pub fn decode_response(&self, method: &str, body: &[u8]) -> Result<Vec<Value>, FrameError> {
        let (_, output) = self.types(method)?;
        self.decode(&output, body)
    }

    /// `messages` (JSON) as gRPC frames of `method`'s request type.
    ///
    /// # Errors
    /// [`FrameError`] for an unknown method or JSON that does not fit the type.
    pub fn encode_request(&self, method: &str, messages: &[Value]) -> Result<Bytes, FrameError> {
        let (input, _) = self.types(method)?;
        self.encode(&input, messages)
    }

    /// `messages` (JSON) as gRPC frames of `method`'s response type.
    ///
    /// # Errors
    /// As [`encode_request`](Self::encode_request).
    pub fn encode_response(&self, method: &str, messages: &[Value]) -> Result<Bytes, FrameError> {
        let (_, output) = self.types(method)?;
        self.encode(&output, messages)
    }

    fn decode(&self, desc: &MessageDescriptor, mut body: &[u8]) -> Result<Vec<Value>, FrameError> {
        let options = SerializeOptions::new().use_proto_field_name(true);
        let bad = |why: String| FrameError::Message {
            message: desc.full_name().to_owned(),
            why,
        };
        let mut out = Vec::new();
        while !body.is_empty() {
            let [flag, a, b, c, d, rest @ ..] = body else {
                return Err(FrameError::Malformed("fewer than 5 bytes of frame header"));
            };
            if *flag == 1 {
                return Err(FrameError::Compressed);
            }
            if *flag != 0 {
                return Err(FrameError::Malformed("compression flag other than 0 or 1"));
            }
            let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            if len > self.max_message_bytes {
                return Err(FrameError::TooLarge {
                    size: len,
                    limit: self.max_message_bytes,
                });
            }
            if rest.len() < len {
                return Err(FrameError::Malformed(
                    "frame shorter than its length prefix",
                ));
            }
            let (frame, next) = rest.split_at(len);
            let message =
                DynamicMessage::decode(desc.clone(), frame).map_err(|e| bad(e.to_string()))?;
            let json = message
                .serialize_with_options(serde_json::value::Serializer, &options)
                .map_err(|e| bad(e.to_string()))?;
            out.push(json);
            body = next;
        }
        Ok(out)
    }

    fn encode(&self, desc: &MessageDescriptor, messages: &[Value]) -> Result<Bytes, FrameError> {
        let mut out = BytesMut::new();
        for json in messages {
            let message = DynamicMessage::deserialize_with_options(
                desc.clone(),
                json.clone(),
                &DeserializeOptions::new(),
            )
            .map_err(|e| FrameError::Message {
                message: desc.full_name().to_owned(),
                why: e.to_string(),
            })?;
            let bytes = message.encode_to_vec();
            if bytes.len() > self.max_message_bytes {
                return Err(FrameError::TooLarge {
                    size: bytes.len(),
                    limit: self.max_message_bytes,
                });
            }
            out.put_u8(0);
            out.put_u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
            out.put_slice(&bytes);
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const M: &str = "hello.v1.Profiles/GetProfile";

    fn codec() -> Codec {
        Codec::new(&[boost_test_proto::FILE_DESCRIPTOR_SET], 1024).unwrap()
    }

    #[test]
    fn frames_round_trip_through_json_with_proto_field_names() {
        let c = codec();
        let frames = c
            .encode_response(M, &[json!({"name": "bob", "language": "fr"})])
            .unwrap();
        let back = c.decode_response(M, &frames).unwrap();
        assert_eq!(back, [json!({"language": "fr", "name": "bob"})]);
        let empty = c.encode_request(M, &[json!({})]).unwrap();
        assert_eq!(&empty[..], &[0, 0, 0, 0, 0]);
        assert_eq!(c.decode_request(M, &empty).unwrap(), [json!({})]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let c = codec();
        assert!(matches!(
            c.decode_request("x.Y/Z", &[]),
            Err(FrameError::UnknownMethod(_))
        ));
        assert!(matches!(
            c.decode_request(M, &[0, 0]),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            c.decode_request(M, &[1, 0, 0, 0, 0]),
            Err(FrameError::Compressed)
        ));
        assert!(matches!(
            c.decode_request(M, &[0, 0, 0, 8, 0]),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            c.decode_request(M, &[0, 0, 0, 0, 9]),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            c.encode_response(M, &[json!({"nope": 1})]),
            Err(FrameError::Message { .. })
        ));
    }
}
