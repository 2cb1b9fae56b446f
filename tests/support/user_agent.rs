//! A small HTTP "user agent" standing in for the end-user's browser, to
//! drive an authorization server's HTML pages (login, consent, logout) over
//! plain HTTP:
//!
//! - a cookie jar (host-only cookies with paths, as RFC 6265 §5.1.4 and §5.3
//!   match them; enough for one loopback server);
//! - no automatic redirects: every response comes back to the test, and
//!   [`UserAgent::follow`] walks a bounded chain of them, stopping where a
//!   `Location` leaves the server (the client's redirect URI is read, never
//!   requested);
//! - a reader for the plain forms of tests/interop/provider.mjs, found by
//!   `id` (fields, hidden inputs and submit buttons).

// Each test binary includes this file and uses only some of it.
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use oidckit::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

/// How many redirects [`UserAgent::follow`] follows before it gives up.
pub const MAX_REDIRECTS: usize = 10;

/// The largest page read.
const MAX_BODY: usize = 256 * 1024;

/// One browser: its own cookies (so its own sessions at the server).
pub struct UserAgent {
    http: reqwest::Client,
    jar: Mutex<Vec<Cookie>>,
}

/// A response as the test sees it.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL that was requested.
    pub url: Url,
    pub status: StatusCode,
    /// `Location`, resolved against [`url`](Self::url).
    pub location: Option<Url>,
    pub content_type: Option<String>,
    pub body: String,
}

/// Where a chain of redirects ended.
#[derive(Debug)]
pub enum Landing {
    /// A response of the server that is not a redirect (a page, or an error).
    Page(Response),
    /// A redirect to another origin: the URL the browser would go to next
    /// (for a sign-in, the client's redirect URI with the response).
    Left(Url),
}

impl Landing {
    /// The page, or a panic naming where the chain went instead.
    #[track_caller]
    pub fn page(self) -> Response {
        match self {
            Landing::Page(page) => page,
            Landing::Left(url) => panic!("expected a page of the server, got a redirect to {url}"),
        }
    }

    /// The URL outside the server, or a panic showing the page instead.
    #[track_caller]
    pub fn left(self) -> Url {
        match self {
            Landing::Left(url) => url,
            Landing::Page(page) => panic!(
                "expected a redirect out of the server, got {} {} from {}:\n{}",
                page.status.as_u16(),
                page.content_type.as_deref().unwrap_or("-"),
                page.url,
                snippet(&page.body)
            ),
        }
    }
}

impl Default for UserAgent {
    fn default() -> Self {
        Self::new()
    }
}

impl UserAgent {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .user_agent("oidckit-interop-user-agent")
            .build()
            .expect("HTTP client");
        UserAgent {
            http,
            jar: Mutex::new(Vec::new()),
        }
    }

    /// `GET url`, with the jar's cookies for it.
    pub async fn get(&self, url: &Url) -> Response {
        let request = self.http.get(url.clone());
        self.send(url, request).await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body.
    pub async fn post_form(&self, url: &Url, fields: &[(String, String)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(url, request).await
    }

    /// Submits `form` with the button `button_id` (whose `name=value`, if
    /// it has a name, is sent as a browser sends the clicked button's).
    pub async fn submit(&self, form: &Form, button_id: &str) -> Response {
        let fields = form.fields_with_button(button_id);
        assert_eq!(form.method, "post", "form {:?} is not method=post", form.id);
        self.post_form(&form.action, &fields).await
    }

    /// Follows `response`'s redirects (each a `GET`) while they stay on
    /// `response`'s origin, at most [`MAX_REDIRECTS`] of them, and returns
    /// where the chain ended. The URLs requested are pushed on `hops`.
    pub async fn follow(&self, mut response: Response, hops: &mut Vec<Url>) -> Landing {
        let origin = response.url.origin();
        for _ in 0..=MAX_REDIRECTS {
            let Some(next) = response.location.clone() else {
                return Landing::Page(response);
            };
            assert!(
                response.status.is_redirection(),
                "{} {} has a Location but is not a redirect",
                response.status.as_u16(),
                response.url
            );
            if next.origin() != origin {
                return Landing::Left(next);
            }
            hops.push(next.clone());
            response = self.get(&next).await;
        }
        panic!(
            "more than {MAX_REDIRECTS} redirects; requested: {}",
            hops.iter()
                .map(Url::as_str)
                .collect::<Vec<_>>()
                .join(" -> ")
        )
    }

    /// [`get`](Self::get) and then [`follow`](Self::follow).
    pub async fn visit(&self, url: &Url, hops: &mut Vec<Url>) -> Landing {
        hops.push(url.clone());
        let response = self.get(url).await;
        self.follow(response, hops).await
    }

    /// The names of the cookies the jar holds for `url`.
    pub fn cookie_names(&self, url: &Url) -> Vec<String> {
        let jar = self.jar.lock().unwrap();
        jar.iter()
            .filter(|c| c.matches(url))
            .map(|c| c.name.clone())
            .collect()
    }

    async fn send(&self, url: &Url, request: reqwest::RequestBuilder) -> Response {
        let mut request = request.header(ACCEPT, "text/html, */*;q=0.5");
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header(COOKIE, cookies);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let value = value.to_str().expect("Set-Cookie is ASCII");
            self.store_cookie(url, value);
        }
        let location = headers.get(LOCATION).map(|v| {
            let v = v.to_str().expect("Location is ASCII");
            url.join(v)
                .unwrap_or_else(|e| panic!("bad Location {v:?} from {url}: {e}"))
        });
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("reading the body from {url} failed: {e}"));
        assert!(bytes.len() <= MAX_BODY, "{url}: body over {MAX_BODY} bytes");
        Response {
            url: url.clone(),
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let mut jar = self.jar.lock().unwrap();
        let now = unix_now();
        jar.retain(|c| c.expires.is_none_or(|t| t > now));
        let mut matching: Vec<&Cookie> = jar.iter().filter(|c| c.matches(url)).collect();
        if matching.is_empty() {
            return None;
        }
        // RFC 6265 §5.4: longer paths first.
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    fn store_cookie(&self, url: &Url, header: &str) {
        let Some(cookie) = Cookie::parse(url, header) else {
            return;
        };
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|c| !(c.host == cookie.host && c.name == cookie.name && c.path == cookie.path));
        let now = unix_now();
        if cookie.expires.is_none_or(|t| t > now) {
            jar.push(cookie);
        }
    }
}

/// A stored cookie.
#[derive(Debug, Clone)]
struct Cookie {
    host: String,
    name: String,
    value: String,
    path: String,
    /// Seconds since the epoch; `None` for a session cookie.
    expires: Option<u64>,
}

impl Cookie {
    /// A `Set-Cookie` value received from `url` (RFC 6265 §5.2), `None`
    /// when it has no `name=`. `Domain` and `Secure` are not needed on one
    /// loopback host and are ignored; `Max-Age` wins over `Expires`.
    fn parse(url: &Url, header: &str) -> Option<Cookie> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let mut path = None;
        let mut max_age = None;
        let mut expires = None;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let val = val.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "path" if val.starts_with('/') => path = Some(val.to_owned()),
                "max-age" => max_age = val.parse::<i64>().ok(),
                "expires" => expires = http_date(val),
                _ => {}
            }
        }
        let expires = match max_age {
            Some(seconds) if seconds <= 0 => Some(0),
            Some(seconds) => Some(unix_now() + seconds as u64),
            None => expires,
        };
        Some(Cookie {
            host: url.host_str()?.to_owned(),
            name: name.to_owned(),
            value: value.trim().to_owned(),
            path: path.unwrap_or_else(|| default_path(url)),
            expires,
        })
    }

    /// Whether the cookie goes with a request to `url`: same host, and the
    /// path matches (RFC 6265 §5.1.4).
    fn matches(&self, url: &Url) -> bool {
        if url.host_str() != Some(self.host.as_str()) {
            return false;
        }
        let request = url.path();
        request == self.path
            || (request.starts_with(&self.path)
                && (self.path.ends_with('/') || request[self.path.len()..].starts_with('/')))
    }
}

/// RFC 6265 §5.1.4: the directory of the request path.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An IMF-fixdate (`Thu, 01 Jan 1970 00:00:00 GMT`, RFC 9110 §5.6.7) in
/// seconds since the epoch.
fn http_date(text: &str) -> Option<u64> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = fields.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    // Days from 1970-01-01 to the date (the proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

/// A form of a page: where it goes, and what it sends.
#[derive(Debug, Clone)]
pub struct Form {
    pub id: String,
    /// `action`, resolved against the page's URL.
    pub action: Url,
    /// `method`, lower case (`get` when absent).
    pub method: String,
    /// The `<input>` fields with a name, in order, with their values.
    pub fields: Vec<(String, String)>,
    /// The submit buttons: `(id, name, value)`.
    pub buttons: Vec<(String, Option<String>, String)>,
}

impl Form {
    /// Sets the value of the field `name` (which must exist).
    #[track_caller]
    pub fn set(&mut self, name: &str, value: &str) {
        let field = self
            .fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("form {:?} has no field {name:?}", self.id));
        field.1 = value.to_owned();
    }

    /// The fields as an `application/x-www-form-urlencoded` body (no button).
    pub fn encoded(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.fields)
            .finish()
    }

    /// The fields as submitted with the button `button_id`.
    #[track_caller]
    pub fn fields_with_button(&self, button_id: &str) -> Vec<(String, String)> {
        let (_, name, value) = self
            .buttons
            .iter()
            .find(|(id, _, _)| id == button_id)
            .unwrap_or_else(|| {
                panic!(
                    "form {:?} has no button {button_id:?} (it has {:?})",
                    self.id, self.buttons
                )
            });
        let mut fields = self.fields.clone();
        if let Some(name) = name {
            fields.push((name.clone(), value.clone()));
        }
        fields
    }
}

impl Response {
    /// The form with `id`, its inputs and buttons: those between it and its
    /// `</form>`, and those elsewhere naming it in a `form` attribute.
    #[track_caller]
    pub fn form(&self, id: &str) -> Form {
        self.find_form(|t| t.attr("id") == Some(id))
            .unwrap_or_else(|| {
                panic!(
                    "no <form id={id:?}> in the page from {}:\n{}",
                    self.url,
                    snippet(&self.body)
                )
            })
    }

    /// The page's first form, if any (e.g. the auto-submitting form of
    /// `response_mode=form_post`, which has no id).
    pub fn first_form(&self) -> Option<Form> {
        self.find_form(|_| true)
    }

    fn find_form(&self, wanted: impl Fn(&Tag) -> bool) -> Option<Form> {
        let tags = tags(&self.body);
        let (index, form) = tags
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == "form" && wanted(t))?;
        let id = form.attr("id").unwrap_or("");
        let end = tags[index..]
            .iter()
            .position(|t| t.name == "/form")
            .map_or(tags.len(), |i| index + i);
        let inside = |i: usize, t: &Tag| {
            (index < i && i < end) || (!id.is_empty() && t.attr("form") == Some(id))
        };
        let action = form.attr("action").unwrap_or("");
        let action = self
            .url
            .join(action)
            .unwrap_or_else(|e| panic!("form {id:?}: bad action {action:?}: {e}"));
        let method = form.attr("method").unwrap_or("get").to_ascii_lowercase();
        let mut fields = Vec::new();
        let mut buttons = Vec::new();
        for (i, tag) in tags.iter().enumerate() {
            if !inside(i, tag) {
                continue;
            }
            match tag.name.as_str() {
                "input" => {
                    let kind = tag.attr("type").unwrap_or("text").to_ascii_lowercase();
                    if let Some(name) = tag.attr("name") {
                        if kind != "submit" && kind != "button" {
                            fields.push((
                                name.to_owned(),
                                tag.attr("value").unwrap_or("").to_owned(),
                            ));
                        }
                    }
                }
                "button" if tag.attr("type").unwrap_or("submit") == "submit" => {
                    buttons.push((
                        tag.attr("id").unwrap_or("").to_owned(),
                        tag.attr("name").map(str::to_owned),
                        tag.attr("value").unwrap_or("").to_owned(),
                    ));
                }
                _ => {}
            }
        }
        Some(Form {
            id: id.to_owned(),
            action,
            method,
            fields,
            buttons,
        })
    }

    /// Whether the page has a `<form id=…>`.
    pub fn has_form(&self, id: &str) -> bool {
        tags(&self.body)
            .iter()
            .any(|t| t.name == "form" && t.attr("id") == Some(id))
    }

    /// The text right after the opening tag of the element with `id` (up to
    /// the next tag), entities decoded.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let tag = tags(&self.body)
            .into_iter()
            .find(|t| t.attr("id") == Some(id))?;
        Some(text_after(&self.body, &tag))
    }

    /// The texts of the elements with `class` (as [`text_of`](Self::text_of)).
    pub fn texts_of_class(&self, class: &str) -> Vec<String> {
        tags(&self.body)
            .into_iter()
            .filter(|t| {
                t.attr("class")
                    .is_some_and(|c| c.split_whitespace().any(|c| c == class))
            })
            .map(|t| text_after(&self.body, &t))
            .collect()
    }
}

/// The start of a body, for failure messages.
pub fn snippet(body: &str) -> &str {
    let mut end = body.len().min(2000);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

/// One tag of a page: its lower-case name (`/form` for a closing tag), its
/// attributes (values decoded) and where it ends in the page.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    end: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn text_after(html: &str, tag: &Tag) -> String {
    let rest = &html[tag.end..];
    let text = &rest[..rest.find('<').unwrap_or(rest.len())];
    decode_entities(text.trim())
}

/// The tags of a page, in order. Enough HTML for simple, well-formed pages:
/// comments, `<!DOCTYPE>` and the insides of `<script>`/`<style>` are not
/// special-cased beyond skipping `<!…>`.
fn tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let start = i + offset + 1;
        if start >= bytes.len() {
            break;
        }
        if bytes[start] == b'!' {
            i = html[start..]
                .find('>')
                .map_or(bytes.len(), |e| start + e + 1);
            continue;
        }
        let mut j = start;
        let name_start = j;
        if bytes[j] == b'/' {
            j += 1;
        }
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-') {
            j += 1;
        }
        let name = html[name_start..j].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while j < bytes.len() && (bytes[j].is_ascii_whitespace() || bytes[j] == b'/') {
                j += 1;
            }
            if j >= bytes.len() || bytes[j] == b'>' {
                break;
            }
            let attr_start = j;
            while j < bytes.len() && !b"=> \t\r\n/".contains(&bytes[j]) {
                j += 1;
            }
            let attr = html[attr_start..j].to_ascii_lowercase();
            let mut value = String::new();
            if j < bytes.len() && bytes[j] == b'=' {
                j += 1;
                let quote = bytes.get(j).copied().filter(|q| *q == b'"' || *q == b'\'');
                let value_start = if quote.is_some() { j + 1 } else { j };
                let value_end = match quote {
                    Some(q) => html[value_start..]
                        .find(q as char)
                        .map_or(bytes.len(), |e| value_start + e),
                    None => html[value_start..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .map_or(bytes.len(), |e| value_start + e),
                };
                value = decode_entities(&html[value_start..value_end]);
                j = if quote.is_some() {
                    value_end + 1
                } else {
                    value_end
                };
            }
            if attr.is_empty() {
                j += 1;
            } else {
                attrs.push((attr, value));
            }
        }
        let end = (j + 1).min(bytes.len());
        tags.push(Tag { name, attrs, end });
        i = end;
    }
    tags
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            http_date("Sat, 29 Feb 2020 12:00:00 GMT"),
            Some(1_582_977_600)
        );
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn cookie_paths() {
        let url: Url = "http://127.0.0.1:5/interaction/abc".parse().unwrap();
        let c = Cookie::parse(&url, "_i=v; path=/interaction/abc; httponly").unwrap();
        assert!(c.matches(&url));
        assert!(c.matches(&"http://127.0.0.1:9/interaction/abc/login".parse().unwrap()));
        assert!(!c.matches(&"http://127.0.0.1:5/interaction/abcd".parse().unwrap()));
        assert!(!c.matches(&"http://127.0.0.1:5/auth/abc".parse().unwrap()));
        assert!(!c.matches(&"http://localhost:5/interaction/abc".parse().unwrap()));
        let d = Cookie::parse(&url, "_s=v").unwrap();
        assert_eq!(d.path, "/interaction");
        let gone =
            Cookie::parse(&url, "_i=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT").unwrap();
        assert_eq!(gone.expires, Some(0));
    }

    #[test]
    fn forms() {
        let page = Response {
            url: "http://127.0.0.1:5/interaction/u".parse().unwrap(),
            status: StatusCode::OK,
            location: None,
            content_type: None,
            body: r#"<!DOCTYPE html><p id="who">a &amp; b</p>
<form id="f" method="POST" action="/interaction/u/login?x=1&amp;y=2">
<input type="hidden" name="xsrf" value="t&quot;k"><input name="login">
<button type="submit" id="submit" name="go" value="yes">Go</button><button type="button" id="js">x</button>
</form><form id="g" action="/g"></form><button id="outside" form="f">Out</button>
<li class="scope a">openid</li><li class="scope">email</li>"#
                .into(),
        };
        let mut form = page.form("f");
        assert_eq!(
            form.action.as_str(),
            "http://127.0.0.1:5/interaction/u/login?x=1&y=2"
        );
        assert_eq!(form.method, "post");
        form.set("login", "alice");
        assert_eq!(
            form.fields_with_button("submit"),
            [("xsrf", "t\"k"), ("login", "alice"), ("go", "yes")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(form.buttons.len(), 2, "{:?}", form.buttons);
        assert_eq!(form.fields_with_button("outside").len(), 2);
        assert_eq!(page.text_of("who").as_deref(), Some("a & b"));
        assert_eq!(page.texts_of_class("scope"), ["openid", "email"]);
        assert!(page.has_form("g") && !page.has_form("h"));
        assert_eq!(page.first_form().unwrap().id, "f");
    }
}
