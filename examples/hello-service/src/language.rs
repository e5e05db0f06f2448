//! Greetings by language: the only business logic of hello-service.

/// The language used when a profile's language is unknown, when the caller
/// has no profile, and when the profile could not be fetched.
pub const FALLBACK: &str = "en";

/// "Hello" in each language hello-service speaks, keyed by ISO 639-1 code.
const GREETINGS: &[(&str, &str)] = &[
    ("en", "Hello"),
    ("fr", "Bonjour"),
    ("es", "Hola"),
    ("de", "Hallo"),
    ("it", "Ciao"),
    ("pt", "Olá"),
    ("nl", "Hallo"),
    ("sv", "Hej"),
    ("da", "Hej"),
    ("no", "Hei"),
    ("fi", "Hei"),
    ("pl", "Cześć"),
    ("tr", "Merhaba"),
    ("ja", "こんにちは"),
];

/// The greeting for `name` in `language` (an ISO 639-1 code such as `fr`, or a
/// tag such as `fr-CA`; case does not matter). Unknown languages greet in
/// English.
///
/// ```
/// use hello_service::language::greet;
///
/// assert_eq!(greet("fr-CA", "Bob"), "Bonjour, Bob!");
/// assert_eq!(greet("tlh", "Worf"), "Hello, Worf!");
/// ```
pub fn greet(language: &str, name: &str) -> String {
    format!("{}, {name}!", hello_in(language))
}

/// "Hello" in `language`, or in English when it is not one we speak.
pub fn hello_in(language: &str) -> &'static str {
    let primary = language.split(['-', '_']).next().unwrap_or_default().trim();
    GREETINGS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(primary))
        .or_else(|| GREETINGS.iter().find(|(code, _)| *code == FALLBACK))
        .map_or("Hello", |(_, hello)| hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_in_the_profile_language() {
        assert_eq!(greet("en", "Alice"), "Hello, Alice!");
        assert_eq!(greet("fr", "Bob"), "Bonjour, Bob!");
        assert_eq!(greet("es", "Carmen"), "Hola, Carmen!");
        assert_eq!(greet("de", "Dieter"), "Hallo, Dieter!");
        assert_eq!(greet("it", "Giulia"), "Ciao, Giulia!");
        assert_eq!(greet("pt", "João"), "Olá, João!");
        assert_eq!(greet("nl", "Noor"), "Hallo, Noor!");
    }

    #[test]
    fn region_subtags_and_case_are_ignored() {
        assert_eq!(hello_in("fr-CA"), "Bonjour");
        assert_eq!(hello_in("pt_BR"), "Olá");
        assert_eq!(hello_in("ES"), "Hola");
        assert_eq!(hello_in(" de "), "Hallo");
    }

    #[test]
    fn unknown_or_empty_language_greets_in_english() {
        assert_eq!(hello_in("tlh"), "Hello");
        assert_eq!(hello_in(""), "Hello");
        assert_eq!(hello_in("-"), "Hello");
    }
}
