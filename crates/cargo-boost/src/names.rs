//! A service's names, all derived from `<name>`: package, crate, env prefix, ports.

use crate::Error;

/// Names a new service's files use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The package and binary name, e.g. `order-service`.
    pub package: String,
    /// The crate name in `use` lines, e.g. `order_service`.
    pub krate: String,
    /// The environment prefix, e.g. `ORDER_SERVICE`.
    pub env_prefix: String,
    /// The default gRPC port (loopback).
    pub grpc_port: u16,
    /// The default admin port (loopback).
    pub admin_port: u16,
}

const RESERVED: [&str; 8] = [
    "boost",
    "test",
    "std",
    "core",
    "alloc",
    "proc-macro",
    "build",
    "self",
];

impl Names {
    /// Validates `name` (lowercase letters, digits and single `-`, starting
    /// with a letter, at most 64 bytes) and derives the rest from it.
    pub fn new(name: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::BadName {
            name: name.chars().take(80).collect(),
            why: why.to_owned(),
        };
        if name.is_empty() || name.len() > 64 {
            return Err(bad("must be 1 to 64 characters"));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(bad("must start with a lowercase letter"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad(
                "holds a character that is not a lowercase letter, digit or '-'",
            ));
        }
        if name.ends_with('-') || name.contains("--") {
            return Err(bad("must not end with '-' or hold '--'"));
        }
        if RESERVED.contains(&name) || name.starts_with("boost-") {
            return Err(bad("is reserved (the kit's own or a Rust crate's name)"));
        }
        let krate = name.replace('-', "_");
        if syn_keyword(&krate) {
            return Err(bad("is a Rust keyword"));
        }
        // FNV-1a: stable ports per name, away from the examples' 50051/50052, 8081/8082.
        let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let offset = u16::try_from(hash % 800).unwrap_or(0);
        Ok(Self {
            package: name.to_owned(),
            env_prefix: krate.to_uppercase(),
            krate,
            grpc_port: 50100 + offset,
            admin_port: 8100 + offset,
        })
    }
}

fn syn_keyword(word: &str) -> bool {
    const KEYWORDS: [&str; 38] = [
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
        "while", "async", "await", "dyn", "gen", "try",
    ];
    KEYWORDS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefix_derive_from_the_name() {
        let names = Names::new("order-service").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names.krate, "order_service");
        assert_eq!(names.env_prefix, "ORDER_SERVICE");
        assert!((50100..50900).contains(&names.grpc_port));
        assert_eq!(names.admin_port - 8100, names.grpc_port - 50100);
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        for name in [
            "", "Order", "1x", "a_b", "a--b", "a-", "boost", "boost-x", "type", "é",
        ] {
            let err = Names::new(name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("service name"), "{name:?}: {err}");
        }
    }
}
