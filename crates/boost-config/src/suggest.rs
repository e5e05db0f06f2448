//! "Did you mean `grpc.listen`?"

/// The known key most like `unknown`, if one is close enough to be a likely typo.
pub(crate) fn nearest<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in known {
        if candidate == unknown {
            continue;
        }
        let score = strsim::jaro_winkler(unknown, candidate)
            .max(strsim::normalized_damerau_levenshtein(unknown, candidate));
        if best.is_none_or(|(top, _)| score > top) {
            best = Some((score, candidate));
        }
    }
    best.filter(|(score, _)| *score >= 0.85)
        .map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn typo_in_a_leaf_suggests_the_leaf() {
        let known = [
            "grpc",
            "grpc.listen",
            "admin",
            "admin.listen",
            "admin.token",
        ];
        assert_eq!(nearest("grpc.lisen", known).as_deref(), Some("grpc.listen"));
        assert_eq!(
            nearest("grcp.listen", known).as_deref(),
            Some("grpc.listen")
        );
        assert_eq!(
            nearest("admin.tokne", known).as_deref(),
            Some("admin.token")
        );
    }

    #[test]
    fn unrelated_key_suggests_nothing() {
        let known = ["grpc", "grpc.listen", "admin", "admin.token"];
        assert_eq!(nearest("database.pool_size", known), None);
    }
}
