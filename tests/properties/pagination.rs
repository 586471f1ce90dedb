//! `?page=` and whole query strings on lists of any length: a page that
//! exists or `Invalid page.`, and `next`/`previous` links that lead where they say.

use chatd::domain::pagination::{self, PageRequest, PAGE_SIZE};
use proptest::prelude::*;

use crate::{config, render};

/// Query strings: any text, and well-formed ones that mix `page` (in range,
/// out of range, `last`, anything) with other parameters, percent-encoded
/// or written raw.
fn query_string() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        3 => Just("page".to_string()),
        1 => Just("after".to_string()),
        2 => "[a-z]{1,3}",
        1 => any::<String>(),
    ];
    let value = prop_oneof![
        3 => (0u64..15).prop_map(|n| n.to_string()),
        1 => Just("last".to_string()),
        2 => any::<String>(),
    ];
    let pairs = prop::collection::vec((name, value), 0..5);
    prop_oneof![
        any::<String>(),
        pairs
            .clone()
            .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap()),
        pairs.prop_map(|pairs| {
            let raw: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
            raw.join("&")
        }),
    ]
}

/// Query pairs other than `page`, in their order.
fn without_page(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(name, _)| name != "page")
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(config(256))]
    /// `?page=` of any text for any number of items: a page that exists,
    /// or `404 {"detail": "Invalid page."}`.
    #[test]
    fn page_requests_are_pages_or_invalid(
        page in prop::option::of(prop_oneof![
            any::<String>(),
            "[+-]?[0-9]{1,22}",
            Just("last".to_string()),
            Just("0".to_string()),
        ]),
        count in prop_oneof![0u64..1000, any::<u64>()],
    ) {
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        match PageRequest::new(page.as_deref(), count) {
            Ok(request) => {
                prop_assert_eq!(request.pages, pages);
                prop_assert!((1..=pages).contains(&request.number));
                prop_assert!(request.offset() < count.max(1));
                let (next, previous) = pagination::links(request, "http://h/api/chat/films/", &[]);
                prop_assert_eq!(next.is_some(), request.number < pages);
                prop_assert_eq!(previous.is_some(), request.number > 1);
            }
            Err(error) => {
                let rendered = render(error.into());
                prop_assert_eq!(rendered.status, 404);
                prop_assert_eq!(rendered.body, serde_json::json!({"detail": "Invalid page."}));
            }
        }
    }

    /// Every existing page number is accepted as written.
    #[test]
    fn existing_pages_are_found(count in 0u64..100_000, pick in any::<prop::sample::Index>()) {
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        let number = pick.index(pages as usize) as u64 + 1;
        prop_assert_eq!(PageRequest::new(Some(&number.to_string()), count).unwrap().number, number);
    }

    /// Any query string on a list of `count` items: its `page` is a page
    /// that exists (page 1 of an empty list included), or it is refused only
    /// when it names no such page; the `next` and `previous` links are
    /// there exactly when such a page exists, parse as URLs of the same
    /// list, lead (read back as the server reads a query) to the page just
    /// after and just before, and keep every other query parameter (sorted
    /// by name, as DRF writes them).
    #[test]
    fn query_strings_give_consistent_page_links(
        query in query_string(),
        count in prop_oneof![0u64..1500, any::<u64>()],
    ) {
        const LIST: &str = "http://h/api/chat/films/";
        let pairs = pagination::query_pairs(&query);
        let page = pagination::query_value(&pairs, "page");
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        let request = match PageRequest::new(page, count) {
            Ok(request) => request,
            Err(_) => {
                prop_assert!(page.is_some(), "no page given, yet refused: {:?}", query);
                let page = page.unwrap();
                let exists = page == "last"
                    || page.parse::<u64>().is_ok_and(|n| (1..=pages).contains(&n));
                prop_assert!(!exists, "page {:?} of {} refused", page, pages);
                return Ok(());
            }
        };
        prop_assert_eq!(request.pages, pages);
        let expected = match page {
            None => Some(1),
            Some("last") => Some(pages),
            Some(text) => text.parse().ok(),
        };
        prop_assert_eq!(Some(request.number), expected, "page {:?}", page);
        prop_assert!(
            request.offset() < count || (count == 0 && request.number == 1),
            "offset {} of {} items", request.offset(), count
        );

        let mut others = without_page(&pairs);
        others.sort_by(|a, b| a.0.cmp(&b.0));
        let (next, previous) = pagination::links(request, LIST, &pairs);
        prop_assert_eq!(next.is_some(), request.number < pages);
        prop_assert_eq!(previous.is_some(), request.number > 1);
        let links = [(next, request.number + 1), (previous, request.number - 1)];
        for (link, target) in links {
            let Some(link) = link else { continue };
            let url = reqwest::Url::parse(&link)
                .map_err(|e| TestCaseError::fail(format!("{link:?} is no URL: {e}")))?;
            prop_assert_eq!(url.scheme(), "http", "{}", link);
            prop_assert_eq!(url.host_str(), Some("h"), "{}", link);
            prop_assert_eq!(url.path(), "/api/chat/films/", "{}", link);
            let link_pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            // DRF links page 1 without a `page`, every other page with one.
            let page_params = link_pairs.iter().filter(|(name, _)| name == "page").count();
            prop_assert_eq!(page_params, usize::from(target > 1), "{}", link);
            let followed = PageRequest::new(pagination::query_value(&link_pairs, "page"), count);
            prop_assert_eq!(followed.ok().map(|r| r.number), Some(target), "{}", link);
            prop_assert_eq!(without_page(&link_pairs), others.clone(), "{}", link);
        }
    }
}
