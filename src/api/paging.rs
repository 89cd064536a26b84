//! Paging parameters, shared by every paged operation (SPEC section 4 step 4, section 9.3).
//!
//! **Token mode** when `MaxResults` or `NextToken` is present, else **page mode**; in token
//! mode `PageNumber` and `PageSize` are ignored, not validated. An operation declares its
//! [`PagingRules`] (limits, and the error answered for each parameter), reads the mode with
//! [`Paging::parse`] once its filters are read (they bind the NextToken), asks the engine for
//! [`Paging::window`], and takes the paging fields of its answer from [`Paging::answer`].

use super::next_token::{Scope, TokenKey};
use crate::engine::PageStart;
use crate::error::ApiError;
use crate::rpc::params::Params;

/// Largest `PageNumber`: the largest signed 64-bit number, as the SDKs type it.
pub const MAX_PAGE_NUMBER: u64 = i64::MAX as u64;

/// A whole number parameter from 1 to `max`, `default` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The value when the parameter is absent (or empty).
    pub default: u64,
    /// The largest value accepted.
    pub max: u64,
}

/// The error answered for each bad paging parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagingErrors {
    /// `PageNumber` not a whole number from 1 to [`MAX_PAGE_NUMBER`].
    pub page_number: ApiError,
    /// `PageSize` out of its [`Limit`].
    pub page_size: ApiError,
    /// `MaxResults` out of its [`Limit`].
    pub max_results: ApiError,
    /// A `NextToken` this emulator did not issue for the query's scope.
    pub next_token: ApiError,
}

/// How an operation pages: its limits and its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagingRules {
    /// `PageSize`.
    pub page_size: Limit,
    /// `MaxResults`.
    pub max_results: Limit,
    /// What each bad parameter is answered with.
    pub errors: PagingErrors,
}

/// Paging of the four Describe* operations of Cloud Assistant (SPEC 9.3), with their pages'
/// wording.
pub const CLOUD_ASSISTANT: PagingRules = PagingRules {
    page_size: Limit {
        default: 10,
        max: 50,
    },
    max_results: Limit {
        default: 10,
        max: 50,
    },
    errors: PagingErrors {
        page_number: ApiError::CloudAssistantInvalidPageNumber,
        page_size: ApiError::CloudAssistantInvalidPageSize,
        max_results: ApiError::InvalidMaxResults,
        next_token: ApiError::InvalidNextToken,
    },
};

/// How the caller pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// PageNumber / PageSize.
    Page {
        /// 1-based page number.
        number: u64,
        /// Records per page.
        size: u64,
    },
    /// MaxResults / NextToken.
    Token {
        /// Records per page.
        max_results: u64,
        /// The key of the last record already returned; `None` on the first page.
        after: Option<String>,
    },
}

/// The paging fields of an answer, for the response to place in its own key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFields {
    /// Page mode only.
    pub page_size: Option<u64>,
    /// Page mode only.
    pub page_number: Option<u64>,
    /// Records matching the query, on every page.
    pub total_count: u64,
    /// Present when records follow the page, in either mode.
    pub next_token: Option<String>,
}

impl Paging {
    /// Reads the paging parameters, first failure wins: in token mode `MaxResults` then
    /// `NextToken`, which must have been issued by `tokens` for `scope`; in page mode
    /// `PageNumber` then `PageSize`.
    pub fn parse(
        params: &Params<'_>,
        rules: &PagingRules,
        tokens: &TokenKey,
        scope: &impl Scope,
    ) -> Result<Self, ApiError> {
        let token_mode = params.get("MaxResults").is_some() || params.get("NextToken").is_some();
        if token_mode {
            let max_results = whole_number(params.get("MaxResults"), rules.max_results)
                .ok_or_else(|| rules.errors.max_results.clone())?;
            let after = match params.get("NextToken") {
                Some(token) => Some(
                    tokens
                        .open(scope, token)
                        .ok_or_else(|| rules.errors.next_token.clone())?,
                ),
                None => None,
            };
            Ok(Self::Token { max_results, after })
        } else {
            let page_number = Limit {
                default: 1,
                max: MAX_PAGE_NUMBER,
            };
            let number = whole_number(params.get("PageNumber"), page_number)
                .ok_or_else(|| rules.errors.page_number.clone())?;
            let size = whole_number(params.get("PageSize"), rules.page_size)
                .ok_or_else(|| rules.errors.page_size.clone())?;
            Ok(Self::Page { number, size })
        }
    }

    /// Where the page starts in the listing, and how many records it holds at most.
    pub fn window(&self) -> (PageStart<'_>, usize) {
        let (start, limit) = match self {
            // Saturate: a page this far out is simply past the end.
            Self::Page { number, size } => {
                (PageStart::Offset((number - 1).saturating_mul(*size)), *size)
            }
            Self::Token { max_results, after } => {
                (PageStart::After(after.as_deref()), *max_results)
            }
        };
        (start, usize::try_from(limit).unwrap_or(usize::MAX))
    }

    /// The paging fields answering a page of a listing of `total_count` records. `resume_after`
    /// is the key of the page's last record when records follow it, `None` on the last page;
    /// the NextToken is issued for `scope`.
    pub fn answer(
        &self,
        total_count: u64,
        resume_after: Option<&str>,
        tokens: &TokenKey,
        scope: &impl Scope,
    ) -> PageFields {
        let (page_number, page_size) = match *self {
            Self::Page { number, size } => (Some(number), Some(size)),
            Self::Token { .. } => (None, None),
        };
        PageFields {
            page_size,
            page_number,
            total_count,
            next_token: resume_after.map(|key| tokens.issue(scope, key)),
        }
    }
}

/// A whole number in `1..=limit.max`, `limit.default` when absent; `None` when out of range or
/// not a number.
fn whole_number(value: Option<&str>, limit: Limit) -> Option<u64> {
    let Some(text) = value else {
        return Some(limit.default);
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>()
        .ok()
        .filter(|n| (1..=limit.max).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::next_token::FilterScope;
    use crate::rpc::params::Decoded;

    /// Rules whose errors tell the parameters apart.
    fn rules() -> PagingRules {
        PagingRules {
            page_size: Limit {
                default: 10,
                max: 50,
            },
            max_results: Limit {
                default: 7,
                max: 20,
            },
            errors: PagingErrors {
                page_number: ApiError::invalid("PageNumber", "test"),
                page_size: ApiError::invalid("PageSize", "test"),
                max_results: ApiError::invalid("MaxResults", "test"),
                next_token: ApiError::invalid("NextToken", "test"),
            },
        }
    }

    const SCOPE: FilterScope<'static> = FilterScope {
        action: "DescribeThings",
        account: "a",
        region: "r",
        filters: &[("Name", "x")],
    };

    fn key() -> TokenKey {
        TokenKey::derive(&[])
    }

    fn parse(query: &str) -> Result<Paging, ApiError> {
        let params = Decoded::new(query.as_bytes(), None).into_params().unwrap();
        Paging::parse(&params, &rules(), &key(), &SCOPE)
    }

    /// The parameter an error of [`rules`] names.
    fn refused(query: &str) -> String {
        match parse(query).unwrap_err() {
            ApiError::InvalidParameter { name, .. } => name,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn page_mode_by_default_with_the_declared_defaults() {
        assert_eq!(
            parse(""),
            Ok(Paging::Page {
                number: 1,
                size: 10
            })
        );
        assert_eq!(
            parse("PageNumber=9223372036854775807&PageSize=50"),
            Ok(Paging::Page {
                number: MAX_PAGE_NUMBER,
                size: 50
            })
        );
        // An empty value counts as absent.
        assert_eq!(
            parse("PageNumber=&PageSize="),
            Ok(Paging::Page {
                number: 1,
                size: 10
            })
        );
    }

    #[test]
    fn token_mode_ignores_the_page_parameters() {
        assert_eq!(
            parse("MaxResults=20&PageNumber=0&PageSize=x"),
            Ok(Paging::Token {
                max_results: 20,
                after: None
            })
        );
        let token = key().issue(&SCOPE, "k-9");
        assert_eq!(
            parse(&format!("NextToken={token}&PageSize=0")),
            Ok(Paging::Token {
                max_results: 7,
                after: Some("k-9".into())
            })
        );
    }

    #[test]
    fn each_bad_parameter_gets_its_declared_error_first_failure_wins() {
        for (query, name) in [
            ("PageNumber=0", "PageNumber"),
            ("PageNumber=9223372036854775808", "PageNumber"),
            ("PageNumber=-1", "PageNumber"),
            ("PageNumber=+1", "PageNumber"),
            ("PageNumber=0&PageSize=0", "PageNumber"),
            ("PageSize=51", "PageSize"),
            ("PageSize=1.5", "PageSize"),
            ("MaxResults=21", "MaxResults"),
            ("MaxResults=0&NextToken=garbage", "MaxResults"),
            ("NextToken=garbage", "NextToken"),
        ] {
            assert_eq!(refused(query), name, "{query}");
        }
        // A token of another scope.
        let other = FilterScope {
            action: "DescribeOthers",
            ..SCOPE
        };
        let token = key().issue(&other, "k-9");
        assert_eq!(refused(&format!("NextToken={token}")), "NextToken");
    }

    #[test]
    fn cloud_assistant_rules_answer_section_9_codes() {
        let params = |query: &str| {
            Decoded::new(query.as_bytes(), None)
                .into_params()
                .unwrap()
                .into_owned()
        };
        let refused = |query: &str| {
            Paging::parse(&params(query), &CLOUD_ASSISTANT, &key(), &SCOPE)
                .unwrap_err()
                .code()
                .to_owned()
        };
        assert_eq!(refused("PageNumber=0"), "InvalidParam.PageNumber");
        assert_eq!(refused("PageSize=51"), "InvalidParam.PageSize");
        assert_eq!(refused("MaxResults=51"), "InvalidParameter.MaxResults");
        assert_eq!(refused("NextToken=x"), "InvalidParameter.NextToken");
        assert_eq!(
            Paging::parse(&params(""), &CLOUD_ASSISTANT, &key(), &SCOPE),
            Ok(Paging::Page {
                number: 1,
                size: 10
            })
        );
        assert_eq!(
            Paging::parse(&params("MaxResults=50"), &CLOUD_ASSISTANT, &key(), &SCOPE),
            Ok(Paging::Token {
                max_results: 50,
                after: None
            })
        );
    }

    #[test]
    fn windows_and_answers_follow_the_mode() {
        let page = Paging::Page { number: 3, size: 5 };
        assert!(matches!(page.window(), (PageStart::Offset(10), 5)));
        let far = Paging::Page {
            number: MAX_PAGE_NUMBER,
            size: 50,
        };
        assert!(matches!(far.window(), (PageStart::Offset(u64::MAX), 50)));
        let fields = page.answer(12, Some("k-2"), &key(), &SCOPE);
        assert_eq!(
            (fields.page_size, fields.page_number, fields.total_count),
            (Some(5), Some(3), 12)
        );
        let token = fields.next_token.expect("records follow");
        assert_eq!(key().open(&SCOPE, &token).as_deref(), Some("k-2"));

        let walk = Paging::Token {
            max_results: 4,
            after: Some("k-1".into()),
        };
        assert!(matches!(walk.window(), (PageStart::After(Some("k-1")), 4)));
        let last = walk.answer(12, None, &key(), &SCOPE);
        assert_eq!(
            last,
            PageFields {
                page_size: None,
                page_number: None,
                total_count: 12,
                next_token: None
            }
        );
    }
}
