//! Every limit on what a client may put in a query option, in one place. Crossing one is a 400
//! whose message names the limit and its value.

/// The most bytes (after percent-decoding) the value of any one query option may hold, but for
/// `$skiptoken` (the server's own signed cursor, bounded by the URL). A URL carries at most 64 KiB;
/// 16 KiB holds 250 comparisons of ~60 characters each (the node limit's worth, with real
/// property names and values) or an `in` list of 300 GUIDs.
pub const MAX_OPTION_LENGTH: usize = 16 * 1024;

/// The most nodes one `$filter` (or one `$orderby` key) may have: every property name, literal,
/// function name and operator (`eq`, `and`, `not`, `in`, …) counts as one. ASP.NET OData's
/// default is 100; 1000 leaves room for 250 or-ed comparisons or an `in` list of 990 values.
pub const MAX_FILTER_NODES: usize = 1000;

/// How deep a `$filter` expression may nest: parentheses, `not`, lambdas, function calls, and
/// chains of comparisons or `in` (`a eq b eq c …`), which nest one level per operator. Chains
/// of `and`/`or` do not nest: they are one node with many terms.
pub const MAX_FILTER_DEPTH: usize = 64;

/// The most keys one `$orderby` may list.
pub const MAX_ORDERBY_KEYS: usize = 32;

/// The most items one `$select` may list (every property of every compliance policy type
/// together is about 250 names).
pub const MAX_SELECT_ITEMS: usize = 300;

/// The most items one `$expand` (at one level) may list; `*` counts as one.
pub const MAX_EXPAND_ITEMS: usize = 16;

/// The most navigations one request may expand in all, over every level, `*` counted as the
/// navigations it stands for.
pub const MAX_EXPANDED_NAVIGATIONS: usize = 32;

/// How deep `$expand` may nest.
pub const MAX_EXPAND_DEPTH: usize = 4;

/// The largest page a client may ask for with `$top`.
pub const MAX_TOP: usize = 999;

/// The most characters a rule (a dynamic group's `membershipRule`, an assignment filter's `rule`)
/// may hold: Entra's documented maximum for a membership rule. A rule is also held to the
/// `$filter` limits on nodes ([`MAX_FILTER_NODES`]) and nesting ([`MAX_FILTER_DEPTH`]).
pub const MAX_RULE_LENGTH: usize = 3072;

/// The most `"property:text"` clauses one `$search` may join.
pub const MAX_SEARCH_CLAUSES: usize = 16;
