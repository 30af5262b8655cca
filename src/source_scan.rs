//! Test support: reading the crate's own source, so that a test can check
//! that every method of a trait is forwarded by the types that wrap it
//! (`Subclass`, the live-configuration stand-in).

/// The names of the `fn`s directly inside the block that follows `header`
/// in `src` (a trait or an impl).
pub(crate) fn block_fns(src: &str, header: &str) -> Vec<String> {
    let start = src.find(header).expect(header);
    let body = &src[start..];
    let (mut depth, mut names) = (0, Vec::new());
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            'f' if depth == 1 && body[i..].starts_with("fn ") => {
                let rest = &body[i + 3..];
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(0);
                names.push(rest[..end].to_string());
            }
            _ => {}
        }
    }
    names
}
