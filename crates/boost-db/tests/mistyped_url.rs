//! A mistyped `database.url` is reported without its password: the
//! message quotes the URL, masked even when it does not parse.

use boost_db::DatabaseSettings;

#[test]
fn a_mistyped_url_is_refused_without_showing_its_password() {
    for url in [
        "postgres:/app:s3cret@db/x",
        "postgres//app:s3cret@db/x",
        "postgres:///app:s3cret@db/x",
    ] {
        let settings: DatabaseSettings =
            toml::from_str(&format!("url = {url:?}")).expect("parses as a string");
        let problems = boost_config::Problems::of("database", &settings);
        let text = format!("{problems:?}");
        assert!(!problems.is_empty(), "{url} was accepted");
        assert!(text.contains("database.url"), "{text}");
        assert!(!text.contains("s3cret"), "{url}: {text}");
    }
}
