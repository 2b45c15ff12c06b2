//! URLs as actorwatch reads them: the webhook URL split for hosts that need `:authority` and
//! `:path`, and shown in errors without what may be a secret.

/// A webhook URL as an error may show it: user info, path and query can hold secrets (many
/// webhook URLs carry their token in the path), so only the scheme and host are kept.
pub(crate) fn url_for_errors(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains(['/', '@', '?']) {
            "<not a URL>".to_string()
        } else {
            url.to_string()
        };
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let tail = if end < rest.len() { "/..." } else { "" };
    format!("{scheme}://{host}{tail}")
}

/// Splits `http(s)://authority/path?query` into authority and path (with query), or `None`.
pub(crate) fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    if authority.is_empty()
        || authority.contains(['@', ' ', '#'])
        || url.contains(['\r', '\n', ' '])
    {
        return None;
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let path = match path.find('#') {
        Some(i) => path.get(..i).unwrap_or("/").to_string(),
        None => path,
    };
    Some((authority.to_string(), path))
}
