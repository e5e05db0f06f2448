//! gRPC status code names, as metric labels, span attributes and settings spell them.

use boost_metrics::conventions::GRPC_STATUS_CODE_NAMES;
use tonic::Code;

/// The upper-case name of a code (`OK`, `UNAVAILABLE`, …), as the `rpc_status_code`
/// label, the `rpc.grpc.status_code` span attribute and settings spell it: the
/// one table in `boost_metrics::conventions`, so labels and spans cannot drift.
pub const fn code_name(code: Code) -> &'static str {
    let index = code as usize;
    if index < GRPC_STATUS_CODE_NAMES.len() {
        GRPC_STATUS_CODE_NAMES[index]
    } else {
        "UNKNOWN"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_grpc_name() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Unavailable), "UNAVAILABLE");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
        for i in 0..17 {
            assert_eq!(Code::from_i32(i) as i32, i, "code {i} round-trips");
        }
    }
}
