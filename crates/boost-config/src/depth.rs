//! A linear pre-scan that refuses TOML nested deeper than [`MAX_NESTING`].
//!
//! The TOML parser bounds arrays/inline tables (80) and the parts of one
//! key (80) separately, but not their product: 79 inline tables each under
//! a 79-part dotted key nest ~6,000 tables, and the recursive conversion,
//! deserialisation and drop of that tree overflow a 2 MiB (tokio worker)
//! stack, which aborts the process instead of returning an error. This scan
//! counts every level the way the tree will have it (header key parts, key
//! parts, arrays, inline tables) in one pass before the parser runs.

/// Deepest nesting accepted, counting header parts, dotted-key parts,
/// arrays and inline tables together; far beyond any real config.
pub(crate) const MAX_NESTING: usize = 64;

/// Where the text first nests deeper than [`MAX_NESTING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column in characters.
    pub(crate) column: usize,
}

impl TooDeep {
    /// The message for a [`ConfigError::Parse`](crate::error::ConfigError).
    pub(crate) fn message() -> String {
        format!(
            "it nests deeper than {MAX_NESTING} levels (header and dotted-key parts, arrays and \
             inline tables counted together); flatten it"
        )
    }
}

/// Checks that `text` nests at most [`MAX_NESTING`] levels. Strings and
/// comments are skipped; the scan is linear and does not recurse. Text that
/// is not valid TOML may pass (the parser reports it); it never nests deeper
/// than the bound past this check.
pub(crate) fn check(text: &str) -> Result<(), TooDeep> {
    let mut scan = Scan::default();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let (mut line, mut column) = (1, 1);
    while i < chars.len() {
        let c = chars[i];
        let step = match c {
            '#' => skip_until(&chars, i, |c| c == '\n'),
            '"' | '\'' => skip_string(&chars, i),
            _ => {
                if !scan.char(c) {
                    return Err(TooDeep { line, column });
                }
                1
            }
        };
        for &skipped in &chars[i..(i + step).min(chars.len())] {
            if skipped == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        i += step;
    }
    Ok(())
}

/// Number of chars from `at` up to (not including) the first that matches.
fn skip_until(chars: &[char], at: usize, stop: impl Fn(char) -> bool) -> usize {
    chars[at..]
        .iter()
        .position(|&c| stop(c))
        .unwrap_or(chars.len() - at)
}

/// Number of chars of the (basic, literal, or multi-line) string at `at`.
fn skip_string(chars: &[char], at: usize) -> usize {
    let quote = chars[at];
    let triple = chars.get(at..at + 3) == Some(&[quote; 3][..]);
    let mut i = at + if triple { 3 } else { 1 };
    while i < chars.len() {
        let c = chars[i];
        if quote == '"' && c == '\\' {
            i += 2;
            continue;
        }
        if !triple && c == '\n' {
            return i - at;
        }
        if c == quote && (!triple || chars.get(i..i + 3) == Some(&[quote; 3][..])) {
            // A multi-line string may end in up to two extra quotes.
            let mut end = i + if triple { 3 } else { 1 };
            while triple && end < chars.len() && chars[end] == quote && end < i + 5 {
                end += 1;
            }
            return end - at;
        }
        i += 1;
    }
    chars.len() - at
}

/// What the scan expects next.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A key (line start at top level, or after `{` / `,` in an inline table).
    #[default]
    Key,
    /// A table header's key, between `[` (or `[[`) and `]`.
    Header,
    /// A value (after `=`, or in an array).
    Value,
}

/// The open containers and the depth of the key being read.
#[derive(Debug, Default)]
struct Scan {
    mode: Mode,
    /// Depth of the last table header.
    header: usize,
    /// Parts of the key being read (dots + 1 once anything was seen).
    key_dots: usize,
    /// Open arrays (`false`) and inline tables (`true`) with their depth.
    open: Vec<(bool, usize)>,
    /// Depth of the value being read.
    value: usize,
}

impl Scan {
    fn base(&self) -> usize {
        self.open.last().map_or(self.header, |&(_, depth)| depth)
    }

    /// Feeds one char outside strings and comments; `false` when too deep.
    fn char(&mut self, c: char) -> bool {
        match (self.mode, c) {
            (Mode::Key, '[') if self.open.is_empty() => {
                self.mode = Mode::Header;
                self.key_dots = 0;
            }
            (Mode::Header, '.') | (Mode::Key, '.') => self.key_dots += 1,
            (Mode::Header, ']') => {
                self.header = self.key_dots + 1;
                self.mode = Mode::Key;
                self.key_dots = 0;
                return self.header <= MAX_NESTING;
            }
            (Mode::Key, '=') => {
                self.value = self.base() + self.key_dots + 1;
                self.mode = Mode::Value;
                self.key_dots = 0;
                return self.value <= MAX_NESTING;
            }
            (Mode::Key, '}') | (Mode::Value, ']' | '}') => {
                self.open.pop();
                self.mode = Mode::Value;
                self.value = self.base();
            }
            (Mode::Value, '[' | '{') => {
                let depth = self.value + 1;
                let table = c == '{';
                self.open.push((table, depth));
                self.value = depth;
                self.mode = if table { Mode::Key } else { Mode::Value };
                self.key_dots = 0;
                return depth <= MAX_NESTING;
            }
            (Mode::Value, ',') => match self.open.last() {
                Some(&(true, _)) => {
                    self.mode = Mode::Key;
                    self.key_dots = 0;
                }
                Some(&(false, depth)) => self.value = depth,
                None => {}
            },
            (_, '\n') if self.open.is_empty() => {
                self.mode = Mode::Key;
                self.key_dots = 0;
            }
            _ => {}
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_configs_pass() {
        let text = "# a [[[ comment\n[grpc.tls]\nlisten = \"[{[{\"\nx.y = [1, [2, {a.b = 3}]]\n\
                    s = '''\n[[[[\n'''\nt = \"\"\"a\\\"\"\" {{{\"\"\"\n[[arr.t]]\nv = 1.5\n";
        assert_eq!(check(text), Ok(()));
    }

    #[test]
    fn each_kind_of_nesting_is_counted() {
        let deep = MAX_NESTING + 1;
        for text in [
            format!("a = {}1{}", "[".repeat(deep), "]".repeat(deep)),
            format!("a = {}1{}", "{b = ".repeat(deep), "}".repeat(deep)),
            format!("{}x = 1", "a.".repeat(deep)),
            format!("[{}x]", "a.".repeat(deep)),
            format!(
                "[{}]\n{} = {{{} = 1}}",
                "a.".repeat(20) + "a",
                "b.".repeat(20) + "b",
                "c.".repeat(30) + "c"
            ),
        ] {
            assert!(check(&text).is_err(), "{text}");
        }
        let ok = MAX_NESTING - 1;
        assert_eq!(
            check(&format!("a = {}1{}", "[".repeat(ok), "]".repeat(ok))),
            Ok(())
        );
        assert_eq!(check(&format!("{}x = 1", "a.".repeat(ok - 1))), Ok(()));
    }

    #[test]
    fn the_position_is_reported() {
        let text = format!("x = 1\n  a = {}", "[".repeat(MAX_NESTING + 5));
        let at = check(&text).unwrap_err();
        assert_eq!(at.line, 2);
        // `a` is level 1, so the 64th `[` (after "  a = ") is level 65.
        assert_eq!(at.column, 6 + MAX_NESTING);
    }
}
