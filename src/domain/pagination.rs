//! DRF page-number pagination: `?page=N` (or `last`), 100 items a page, and
//! absolute `next` / `previous` links that keep the request's other query
//! parameters.

use crate::domain::error::Error;

/// Items per page.
pub const PAGE_SIZE: u64 = 100;

/// The page a request asks for, checked against the number of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub number: u64,
    pub pages: u64,
}

impl PageRequest {
    /// Validates `?page=` (absent means 1) for a list of `count` items.
    /// An empty list still has page 1.
    pub fn new(page: Option<&str>, count: u64) -> Result<PageRequest, Error> {
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        let number = match page {
            None => 1,
            Some("last") => pages,
            Some(text) => text.parse::<u64>().map_err(|_| Error::InvalidPage)?,
        };
        if number == 0 || number > pages {
            return Err(Error::InvalidPage);
        }
        Ok(PageRequest { number, pages })
    }

    pub fn offset(&self) -> u64 {
        (self.number - 1) * PAGE_SIZE
    }
}

/// The `(next, previous)` links of `page`, built on `url` (scheme, host and
/// path of the request) and its query pairs.
pub fn links(
    page: PageRequest,
    url: &str,
    query: &[(String, String)],
) -> (Option<String>, Option<String>) {
    let next = (page.number < page.pages).then(|| with_page(url, query, Some(page.number + 1)));
    let previous = (page.number > 1).then(|| {
        // DRF links page 2's previous page without a page parameter.
        let target = page.number - 1;
        with_page(url, query, (target > 1).then_some(target))
    });
    (next, previous)
}

/// `url` with the query's pairs (sorted by name, as DRF re-encodes them) and
/// `page` set or removed.
fn with_page(url: &str, query: &[(String, String)], page: Option<u64>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(name, _)| name != "page")
        .cloned()
        .collect();
    if let Some(page) = page {
        pairs.push(("page".to_string(), page.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if pairs.is_empty() {
        return url.to_string();
    }
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("{url}?{query}")
}

/// Parses a raw query string into pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// The last value of `name` in the query pairs.
pub fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_checked() {
        assert_eq!(PageRequest::new(None, 0).unwrap().pages, 1);
        assert_eq!(PageRequest::new(Some("3"), 250).unwrap().offset(), 200);
        assert_eq!(PageRequest::new(Some("last"), 250).unwrap().number, 3);
        for bad in ["0", "4", "-1", "x", ""] {
            assert!(PageRequest::new(Some(bad), 250).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_follow_drf() {
        let url = "http://h/api/chat/films/";
        let page = |n| PageRequest::new(Some(n), 250).unwrap();
        assert_eq!(
            links(page("1"), url, &[]),
            (Some(format!("{url}?page=2")), None)
        );
        assert_eq!(
            links(page("2"), url, &[]),
            (Some(format!("{url}?page=3")), Some(url.to_string()))
        );
        assert_eq!(
            links(page("3"), url, &[]),
            (None, Some(format!("{url}?page=2")))
        );
        let query = vec![
            ("page".to_string(), "2".to_string()),
            ("a".to_string(), "x y".to_string()),
        ];
        assert_eq!(
            links(page("2"), url, &query).0,
            Some(format!("{url}?a=x+y&page=3"))
        );
    }
}
