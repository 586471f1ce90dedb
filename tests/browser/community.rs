//! Community features in the browser.
