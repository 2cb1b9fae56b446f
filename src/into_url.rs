//! [`IntoUrl`]: URLs as `&str`, `String` or [`Url`], parsed when the call
//! starts.

use url::Url;

use crate::error::{Error, Result};

/// Anything a URL can be given as: `&str`, `String` or [`Url`] (owned or
/// borrowed). Text that is not a URL is reported when the call starts, as
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
pub trait IntoUrl {
    /// The URL, parsed.
    fn into_url(self) -> Result<Url>;
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url> {
        Ok(self.clone())
    }
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url> {
        Url::parse(self).map_err(|e| {
            Error::invalid_input(format!(
                "{:?} is not a URL",
                crate::error::server_text(self, 256)
            ))
            .with_source(e)
        })
    }
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url> {
        self.as_str().into_url()
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url> {
        self.as_str().into_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_urls() {
        let url = "https://as.example/a".into_url().unwrap();
        assert_eq!(url.as_str(), "https://as.example/a");
        assert_eq!(url.clone().into_url().unwrap(), url);
        assert_eq!(
            String::from("https://as.example/a").into_url().unwrap(),
            url
        );
        let e = "as.example".into_url().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("\"as.example\" is not a URL"), "{e}");
    }
}
