//! Running cmdlets through the host: [`invoke`] for small results, [`query`] to walk large ones
//! page by page, and [`Parameters`] to build a call's parameters.
//!
//! Parameters are anything that serializes to a JSON object (a `serde_json::json!({...})`, a
//! struct, a map, [`Parameters`]) or `()` for none. A `null` value is sent as `$null`, which
//! Exchange reads as "clear this setting": leave out what you do not mean to set.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::bindings::exorun::plugin::exchange as wit;
use crate::error::CmdletError;

/// A cmdlet's parameters, built one at a time; leaves out the ones given as `None`.
///
/// ```
/// use exorun_plugin::Parameters;
///
/// let filter: Option<String> = None;
/// let params = Parameters::new().with("ResultSize", "Unlimited").with_some("Filter", filter);
/// assert_eq!(serde_json::to_string(&params).unwrap(), r#"{"ResultSize":"Unlimited"}"#);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Parameters(Map<String, Value>);

impl Parameters {
    /// No parameters.
    pub fn new() -> Self {
        Parameters::default()
    }

    /// Sets `name` to `value` (replacing an earlier value).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// Sets `name` to `value` if it is `Some`; leaves the parameter out if it is `None`.
    pub fn with_some(self, name: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(value) => self.with(name, value),
            None => self,
        }
    }

    /// Sets `name` to `value` in place.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(name.to_string(), value.into());
    }
}

/// `params` as the JSON object text the host expects (`()` and `null` mean none).
pub(crate) fn encode_parameters(
    cmdlet: &str,
    params: impl Serialize,
) -> Result<String, CmdletError> {
    let text = serde_json::to_string(&params).map_err(|e| {
        CmdletError::InvalidParameter(format!(
            "the parameters of {cmdlet} cannot be written as JSON: {e}"
        ))
    })?;
    match text.as_bytes().first() {
        Some(b'{') => Ok(text),
        _ if text == "null" => Ok("{}".to_string()),
        _ => Err(CmdletError::InvalidParameter(format!(
            "the parameters of {cmdlet} must be a JSON object such as {{\"Identity\": \"ann@contoso.com\"}}, not {text}"
        ))),
    }
}

/// Reads the `index`-th result object of `cmdlet` into `T`; the error names the property.
pub(crate) fn decode_result<T: DeserializeOwned>(
    cmdlet: &str,
    index: u64,
    json: &str,
) -> Result<T, CmdletError> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            CmdletError::Decode(format!(
                "result {} of {cmdlet} does not fit the plugin's type: {inner}",
                index + 1
            ))
        } else {
            CmdletError::Decode(format!(
                "result {} of {cmdlet} does not fit the plugin's type: property {path}: {inner}",
                index + 1
            ))
        }
    })
}

/// Runs `cmdlet` and returns all of its result objects, each read into `T` (use
/// [`serde_json::Value`] to take them as they come). For large results use [`query`].
///
/// ```no_run
/// # use exorun_plugin::{invoke, CmdletError};
/// # use serde_json::{json, Value};
/// match invoke::<Value>("Get-MailboxStatistics", json!({"Identity": "ann@contoso.com"})) {
///     Ok(rows) => println!("{}", rows[0]["TotalItemSize"]),
///     Err(e) if e.is_not_found() => println!("no such mailbox"),
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), CmdletError>(())
/// ```
pub fn invoke<T: DeserializeOwned>(
    cmdlet: &str,
    params: impl Serialize,
) -> Result<Vec<T>, CmdletError> {
    let params = encode_parameters(cmdlet, params)?;
    let results = wit::invoke(cmdlet, &params)?;
    results
        .iter()
        .zip(0..)
        .map(|(json, i)| decode_result(cmdlet, i, json))
        .collect()
}

/// Starts a paged query of `cmdlet`: iterate it for its result objects, each read into `T`
/// (default [`serde_json::Value`]). Only one page is held at a time, so it walks a million
/// recipients in constant memory. Nothing is sent until the first item is asked for.
///
/// Use [`Query::pages`] to act once per page (progress, checkpoints).
///
/// ```no_run
/// # use exorun_plugin::{query, Parameters};
/// # use serde::Deserialize;
/// #[derive(Deserialize)]
/// #[serde(rename_all = "PascalCase")]
/// struct Mailbox { user_principal_name: Option<String> }
///
/// for mailbox in query::<Mailbox>("Get-Mailbox", Parameters::new().with("ResultSize", "Unlimited")) {
///     println!("{:?}", mailbox?.user_principal_name);
/// }
/// # Ok::<(), exorun_plugin::CmdletError>(())
/// ```
pub fn query<T: DeserializeOwned>(cmdlet: &str, params: impl Serialize) -> Query<T> {
    let state = match encode_parameters(cmdlet, params) {
        Ok(params) => State::NotStarted(params),
        Err(e) => State::Failed(e),
    };
    Query {
        cmdlet: cmdlet.to_string(),
        state,
        page: Vec::new().into_iter(),
        records: 0,
        pages: 0,
        _records: PhantomData,
    }
}

/// Where a query is.
enum State {
    /// Built; holds the parameters until the first page is asked for.
    NotStarted(String),
    /// Reading pages through the host's resource.
    Reading(wit::Query),
    /// Failed before anything was sent; the error is handed out once.
    Failed(CmdletError),
    /// Exhausted, or failed and reported (the host's resource is dropped).
    Done,
}

/// A paged cmdlet query: an iterator over its result objects (`Result<T, CmdletError>`). Made by
/// [`query`].
///
/// A page that cannot be fetched ends the iteration after yielding its error; a result that does
/// not fit `T` yields [`CmdletError::Decode`] and the iteration goes on.
pub struct Query<T = Value> {
    cmdlet: String,
    state: State,
    page: std::vec::IntoIter<String>,
    records: u64,
    pages: u64,
    _records: PhantomData<fn() -> T>,
}

impl<T> Query<T> {
    /// The cmdlet this query runs.
    pub fn cmdlet(&self) -> &str {
        &self.cmdlet
    }

    /// Pages fetched so far.
    pub fn pages_read(&self) -> u64 {
        self.pages
    }

    /// Result objects handed out so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Iterates page by page instead: each item is one page's result objects.
    pub fn pages(self) -> Pages<T> {
        Pages { query: self }
    }

    /// The next page of raw JSON objects (empty pages are skipped), `None` when exhausted.
    fn next_raw_page(&mut self) -> Option<Result<Vec<String>, CmdletError>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return None,
                State::Failed(e) => return Some(Err(e)),
                State::NotStarted(params) => {
                    self.state = State::Reading(wit::Query::new(&self.cmdlet, &params));
                }
                State::Reading(handle) => match handle.next_page() {
                    // Dropping the handle (state stays Done) frees it on the host.
                    Ok(None) => return None,
                    Err(e) => return Some(Err(e.into())),
                    Ok(Some(page)) => {
                        self.state = State::Reading(handle);
                        self.pages += 1;
                        if !page.is_empty() {
                            return Some(Ok(page));
                        }
                    }
                },
            }
        }
    }
}

impl<T: DeserializeOwned> Iterator for Query<T> {
    type Item = Result<T, CmdletError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(json) = self.page.next() {
                let index = self.records;
                self.records += 1;
                return Some(decode_result(&self.cmdlet, index, &json));
            }
            match self.next_raw_page()? {
                Ok(page) => self.page = page.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// A query read page by page (from [`Query::pages`]): each item is one page's result objects,
/// or the error that ended the query. A result that does not fit `T` fails its page with
/// [`CmdletError::Decode`].
pub struct Pages<T = Value> {
    query: Query<T>,
}

impl<T> Pages<T> {
    /// Pages fetched so far.
    pub fn pages_read(&self) -> u64 {
        self.query.pages
    }

    /// Result objects handed out so far.
    pub fn records_read(&self) -> u64 {
        self.query.records
    }
}

impl<T: DeserializeOwned> Iterator for Pages<T> {
    type Item = Result<Vec<T>, CmdletError>;

    fn next(&mut self) -> Option<Self::Item> {
        let query = &mut self.query;
        // Records left over from iterating the query first are handed out as one page.
        let leftover: Vec<String> = query.page.by_ref().collect();
        let page = if leftover.is_empty() {
            match query.next_raw_page()? {
                Ok(page) => page,
                Err(e) => return Some(Err(e)),
            }
        } else {
            leftover
        };
        let first = query.records;
        query.records += page.len() as u64;
        let records = page
            .iter()
            .zip(first..)
            .map(|(json, i)| decode_result(&query.cmdlet, i, json))
            .collect();
        Some(records)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[test]
    fn parameters_are_a_json_object() {
        assert_eq!(encode_parameters("Get-Mailbox", ()).unwrap(), "{}");
        assert_eq!(
            encode_parameters("Get-Mailbox", json!({"ResultSize": 5})).unwrap(),
            r#"{"ResultSize":5}"#
        );
        let e = encode_parameters("Get-Mailbox", ["ann"]).unwrap_err();
        assert!(e.is_invalid_parameter(), "{e}");
        assert!(e.message().contains("must be a JSON object"), "{e}");
        let p = Parameters::new()
            .with("Identity", "ann")
            .with_some("Filter", None::<&str>)
            .with_some("ResultSize", Some(10));
        assert_eq!(
            encode_parameters("Get-Mailbox", &p).unwrap(),
            r#"{"Identity":"ann","ResultSize":10}"#
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Mailbox {
        user_principal_name: Option<String>,
        item_count: u64,
    }

    #[test]
    fn result_decoding_names_the_property() {
        let ok: Mailbox = decode_result(
            "Get-X",
            0,
            r#"{"UserPrincipalName":null,"ItemCount":3,"Other":1}"#,
        )
        .unwrap();
        assert_eq!(ok.item_count, 3);
        let e = decode_result::<Mailbox>("Get-X", 1, r#"{"ItemCount":"many"}"#).unwrap_err();
        assert!(e.is_decode());
        assert!(
            e.message().starts_with(
                "result 2 of Get-X does not fit the plugin's type: property ItemCount:"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_query_with_bad_parameters_fails_once_without_calling_the_host() {
        let mut q = query::<Value>("Get-Mailbox", "not an object");
        assert!(q.next().unwrap().unwrap_err().is_invalid_parameter());
        assert!(q.next().is_none());
        let mut pages = query::<Value>("Get-Mailbox", 3).pages();
        assert!(pages.next().unwrap().is_err());
        assert!(pages.next().is_none());
    }
}
