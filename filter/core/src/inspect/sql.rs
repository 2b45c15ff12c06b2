//! SQL injection: a tokenizer in the spirit of libinjection, written for this product.
//!
//! The value is tokenized as it stands and, when it holds a quote, once more as if it were
//! the rest of a string literal the attacker breaks out of (`'`, `"`, `` ` ``). Comments
//! (`/**/`, `--`, `#`) separate tokens and are otherwise invisible. Rules look at the last
//! few tokens as each one arrives (a fixed window: no backtracking):
//! - after a string break: `;`, a comment, `||`, or a boolean operator followed by an
//!   operand (`' or 1=1`, `admin'--`, `' and 1`); after a backtick only `;` and comments;
//! - tautologies: `or|and|xor A op B` with a number or string on one side;
//! - `union [all|distinct] select`, `select` followed by a call, `*`, `null`, `@var`, `1,`;
//! - statements where one starts (value start, after `;`): `insert into`, `drop table`,
//!   `declare @`, `exec xp_..`, `create function`, ...; `waitfor delay` anywhere;
//! - calls of database functions with SQL-shaped arguments (`sleep(5)`, `benchmark(`), a
//!   value that is only a call being opened (`concat(`), MySQL versioned comments `/*!`,
//!   PostgreSQL casts and JSON operators after a string (`'..'::jsonb @> '..'`), catalog
//!   names (`information_schema`, `pg_catalog`, `xp_cmdshell`), `1.e(` number tricks.
//!
//! One file of about 570 lines: every rule reads the same window of tokens as each arrives;
//! split, each part would walk the tokens again (the tokenizer itself is `sql_lex.rs`).
use super::lex::in_table;
use super::sql_lex::{string_end, Lexer, Tok, K, NONE};
#[cfg(test)]
use super::sql_lex::{KW, LOGIC, STMT};
use super::Meter;

/// Functions hardly used outside SQL injection: flagged when called with SQL-shaped arguments.
#[rustfmt::skip]
const STRONG_FUNCS: &[&str] = &[
    "array_agg", "ascii", "benchmark", "char", "char_length", "chr", "concat", "concat_ws",
    "connection_id", "convert_from", "ctxsys", "current_setting", "current_user", "database",
    "db_name", "dbms_pipe", "dbms_xmlgen", "elt", "extractvalue", "find_in_set",
    "geometrycollection", "group_concat", "gtid_subset", "hex", "if", "ifnull", "iif", "instr",
    "is_srvrolemember", "isnull", "json_build_object", "json_extract", "json_keys", "jsonb_pretty",
    "last_insert_id", "linestring", "lo_export", "lo_from_bytea", "lo_get", "lo_import",
    "load_extension", "load_file", "make_set", "md5", "mid", "multilinestring", "multipoint",
    "multipolygon", "name_const", "nullif", "ord", "pg_backend_pid", "pg_ls_dir",
    "pg_read_binary_file", "pg_read_file", "pg_sleep", "polygon", "query_to_xml", "quote_ident",
    "quote_literal", "randomblob", "regexp_substr", "row_count", "schema", "session_user", "sleep",
    "sqlite_compileoption_get", "sqlite_version", "string_agg", "substr", "substring",
    "sys_context", "sysdate", "system_user", "unhex", "unistr", "updatexml", "user_name",
    "utl_file", "utl_http", "utl_inaddr", "version", "waitfor", "xmlagg", "xmltype", "xp_cmdshell",
    "zeroblob",
];
/// Functions that take no argument and reveal the server: an empty call is a probe.
#[rustfmt::skip]
const INFO_FUNCS: &[&str] = &[
    "connection_id", "current_user", "database", "db_name", "last_insert_id", "pg_backend_pid",
    "row_count", "schema", "session_user", "sqlite_version", "sysdate", "system_user", "user_name",
    "version",
];
/// Everyday SQL functions: flagged only as a whole value that opens a call (`trim(`).
#[rustfmt::skip]
const FUNCS: &[&str] = &[
    "abs", "avg", "cast", "coalesce", "compress", "convert", "count", "decode", "encode", "floor",
    "insert", "length", "lower", "ltrim", "max", "min", "now", "pow", "rand", "round", "rtrim",
    "sin", "strcmp", "sum", "trim", "upper",
];
/// Catalog and system object names that only an attacker asks for.
#[rustfmt::skip]
const CATALOG: &[&str] = &[
    "all_tab_columns", "all_tables", "all_users", "dba_tables", "dba_users", "information_schema",
    "msdb", "msysaccessobjects", "msysobjects", "opendatasource", "openrowset", "pg_authid",
    "pg_catalog", "pg_database", "pg_proc", "pg_roles", "pg_shadow", "pg_tables", "pg_user",
    "sp_addlogin", "sp_configure", "sp_executesql", "sp_makewebtask", "sp_oacreate", "sp_password",
    "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sys_objects", "syscat", "syscolumns",
    "sysdatabases", "sysibm", "syslogins", "sysmaster", "sysobjects", "systables", "sysusers",
    "user_tables", "xp_availablemedia", "xp_cmdshell", "xp_dirtree", "xp_regread",
    "xp_servicecontrol",
];

/// Every rule needs at least one of these bytes or a space between words.
pub(crate) fn may_match(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\''
            | b'"'
            | b'`'
            | b'('
            | b';'
            | b'='
            | b'/'
            | b'#'
            | b'-'
            | b'_'
            | b':'
            | b'\n'
            | b'.'
    )
}

#[inline(never)] // See `detect` in mod.rs.
pub(crate) fn detect(s: &str, meter: &mut Meter) -> Option<usize> {
    let b = s.as_bytes();
    // Every rule needs at least one of these bytes or a space between words.
    if !b.iter().any(|c| may_match(*c)) {
        return None;
    }
    for q in [0u8, b'\'', b'"', b'`'] {
        if q != 0 && !b.contains(&q) {
            continue;
        }
        meter.add(b.len());
        if let Some(at) = scan(b, q) {
            return Some(at);
        }
    }
    None
}

fn scan(s: &[u8], quote: u8) -> Option<usize> {
    let mut lx = Lexer { s, i: 0 };
    // In a break context, the value starts inside a string: it ends at the first quote.
    let mut broken: Option<usize> = None;
    if quote != 0 {
        let end = string_end(s, 0, quote);
        if end >= s.len() && s.last() != Some(&quote) {
            return None;
        }
        lx.i = end;
        broken = Some(end.saturating_sub(1));
    }
    let mut w = [NONE; 6];
    let mut n = 0usize;
    if let Some(b) = broken {
        // The broken string is the first token: `'` + ` REGEXP`, `'x' != 'y`.
        w[0] = Tok {
            k: K::Str,
            a: 0,
            b: b + 1,
        };
        n = 1;
    }
    // After the broken string: `Some(true)` while looking for the first significant token,
    // `Some(false)` after a boolean operator (wants an operand).
    let mut after_break = broken.map(|_| true);
    loop {
        let (t, comment) = match lx.next() {
            Some(x) => x,
            None => (
                Tok {
                    k: K::End,
                    a: s.len(),
                    b: s.len(),
                },
                false,
            ),
        };
        if comment {
            if t.k == K::Var {
                return Some(t.a); // `/*!50000select*/`, `/*+ hint */`
            }
            // `admin'--`, `' #`, `'/*`: the rest of the statement is cut off. People write
            // `--` in prose too (`"..." -- Author`), so a line comment counts only when
            // nothing but punctuation follows it (`-- -`, `--+`), as libinjection judges.
            if after_break == Some(true) && (s.get(t.a) == Some(&b'/') || bare_comment(s, &t)) {
                return broken;
            }
            continue;
        }
        w.rotate_right(1);
        w[0] = t;
        n += 1;
        if let Some(first) = after_break {
            match (first, t.k) {
                (true, K::RParen) => {}
                (true, K::Semi) => return broken,
                // Backticks quote code in prose (`npm ci` or `npm i`): only `;` counts there.
                (true, _) if quote == b'`' => after_break = None,
                (true, K::Logic) if word(s, &t) == b"||" => return broken,
                (true, K::Logic) => after_break = Some(false),
                (false, K::Num | K::Str | K::Func | K::LParen | K::Logic | K::Select) => {
                    return broken
                }
                (false, K::Kw) if is(s, &t, "true") || is(s, &t, "false") || is(s, &t, "null") => {
                    return broken
                }
                _ => after_break = None,
            }
        }
        if let Some(at) = rules(s, &w, n) {
            return Some(at);
        }
        if t.k == K::End {
            return None;
        }
    }
}

/// A string token whose text is a JSON document (`'{"a":1}'`, `'[1]'`).
fn json_literal(s: &[u8], t: &Tok) -> bool {
    let body = s.get(t.a..t.b).unwrap_or(&[]);
    body.iter()
        .find(|c| !matches!(c, b'\'' | b'"' | b'`' | b' '))
        .is_some_and(|c| matches!(c, b'{' | b'['))
}

/// A line comment with no letter or digit after its marker (`--`, `-- -`, `#`, `--+`).
fn bare_comment(s: &[u8], t: &Tok) -> bool {
    let body = s.get(t.a..t.b).unwrap_or(&[]);
    !body.iter().any(u8::is_ascii_alphanumeric)
}

/// PostgreSQL's built-in type names (the PostgreSQL manual, "Data Types", table 8.1, and
/// the object identifier types), the only words a cast in an injection names.
#[rustfmt::skip]
const PG_TYPES: &[&str] = &[
    "bigint", "bit", "bool", "boolean", "bytea", "char", "character", "cidr", "date", "decimal",
    "double", "float", "float4", "float8", "inet", "int", "int2", "int4", "int8", "integer", "interval",
    "json", "jsonb", "macaddr", "money", "name", "numeric", "oid", "real", "regclass", "regproc",
    "regtype", "smallint", "text", "time", "timestamp", "timestamptz", "tsquery", "tsvector",
    "uuid", "varbit", "varchar", "xml",
];

fn word<'s>(s: &'s [u8], t: &Tok) -> &'s [u8] {
    s.get(t.a..t.b).unwrap_or(&[])
}

fn is(s: &[u8], t: &Tok, kw: &str) -> bool {
    word(s, t).eq_ignore_ascii_case(kw.as_bytes())
}

fn operand(k: K) -> bool {
    matches!(k, K::Num | K::Str)
}

/// Is `w` (any case) in [`CATALOG`]? Checks the length and first byte every entry has
/// before the lookup: most words are not 4 to 18 bytes starting with `a d i m o p s u x`.
fn catalog(w: &[u8]) -> bool {
    (4..=18).contains(&w.len())
        && matches!(
            w[0].to_ascii_lowercase(),
            b'a' | b'd' | b'i' | b'm' | b'o' | b'p' | b's' | b'u' | b'x'
        )
        && in_table(w, CATALOG)
}

/// Rules over the last tokens (`w[0]` is the newest); `n` tokens seen so far.
/// It and `call_rules` are `#[inline(never)]`: inlined, `scan` was one function of 14 KB, and
/// V8 keeps compile memory that grows with the largest functions.
#[inline(never)]
fn rules(s: &[u8], w: &[Tok; 6], n: usize) -> Option<usize> {
    let k = |i: usize| w[i].k;
    let at = |i: usize| Some(w[i].a);
    // Statement start: first token or after `;`.
    let starts = |i: usize| n == i + 1 || k(i + 1) == K::Semi;
    // Tautology: `or 1=1`, `and 'a'='b'`, `or x=x` (a literal on both sides: prose says
    // `and y = 1`, injections compare constants).
    if n >= 4 && k(3) == K::Logic && matches!(k(1), K::Cmp | K::JsonOp) {
        // `x is x` is not SQL (`is` takes null, true, false): `business is business` is prose.
        let same = k(2) == K::Word
            && !is(s, &w[1], "is")
            && word(s, &w[2]).eq_ignore_ascii_case(word(s, &w[0]));
        if (operand(k(2)) && operand(k(0))) || same {
            return at(3);
        }
    }
    // `' or username like '%`, `' or user = 'a`: a comparison after a string break.
    if n >= 5
        && k(4) == K::Str
        && w[4].a == 0
        && k(3) == K::Logic
        && k(2) == K::Word
        && k(1) == K::Cmp
        && operand(k(0))
    {
        return at(3);
    }
    // A value that opens with a boolean comparison: ` OR x=y`, `and 1=2`.
    if n == 4
        && k(3) == K::Logic
        && matches!(k(2), K::Word | K::Num)
        && k(1) == K::Cmp
        && matches!(k(0), K::Word | K::Num)
        && word(s, &w[1]) == b"="
    {
        return at(3);
    }
    // `(4940=4940)`: a constant comparison in a group, as boolean-blind probes send it.
    if n >= 5
        && k(4) == K::LParen
        && k(3) == K::Num
        && word(s, &w[2]) == b"="
        && k(1) == K::Num
        && k(0) == K::RParen
        && word(s, &w[3]) == word(s, &w[1])
    {
        return at(4);
    }
    if n >= 2 && k(1) == K::Logic {
        if k(0) == K::Func && in_table(word(s, &w[0]), STRONG_FUNCS) {
            return at(1);
        }
        if n >= 3
            && matches!(k(2), K::Num | K::Str)
            && k(0) == K::Kw
            && (is(s, &w[0], "true") || is(s, &w[0], "false"))
        {
            return at(1);
        }
    }
    if n >= 2
        && k(1) == K::Union
        && (k(0) == K::Select
            || (k(0) == K::Kw && (is(s, &w[0], "all") || is(s, &w[0], "distinct"))))
    {
        return at(1);
    }
    if n >= 2 && k(1) == K::Union && k(0) == K::LParen {
        return at(1);
    }
    // `select` followed by what only a query puts there, where a query can start: the value's
    // start, after `union`, `;`, `(`, an operator or a comma (`"SELECT count(*) FROM t"`
    // quoted in prose follows a word or a string).
    let query_starts = |i: usize| {
        n == i + 1
            || matches!(
                k(i + 1),
                K::Union | K::Semi | K::LParen | K::Logic | K::Cmp | K::Comma | K::Op
            )
    };
    if n >= 2 && k(1) == K::Select && query_starts(1) {
        match k(0) {
            K::Func | K::Var => return at(1),
            K::Kw if is(s, &w[0], "null") || is(s, &w[0], "distinct") || is(s, &w[0], "top") => {
                return at(1)
            }
            K::Op if is(s, &w[0], "*") => return at(1),
            _ => {}
        }
    }
    if n >= 3 && k(2) == K::Select && k(1) == K::Num && k(0) == K::Comma && query_starts(2) {
        return at(2);
    }
    // Statements.
    if n >= 2 && k(1) == K::Stmt {
        let first = word(s, &w[1]).to_ascii_lowercase();
        let next = word(s, &w[0]).to_ascii_lowercase();
        let nx = next.as_slice();
        let shape = match first.as_slice() {
            b"waitfor" => matches!(nx, b"delay" | b"time"),
            b"insert" | b"replace" => nx == b"into" && starts(1),
            b"delete" => nx == b"from" && starts(1),
            b"drop" | b"create" | b"alter" | b"truncate" => {
                starts(1)
                    && matches!(
                        nx,
                        b"table"
                            | b"database"
                            | b"function"
                            | b"procedure"
                            | b"user"
                            | b"view"
                            | b"trigger"
                            | b"index"
                    )
            }
            b"declare" => k(0) == K::Var,
            b"exec" | b"execute" => {
                k(0) == K::Var
                    || (k(0) == K::LParen && starts(1))
                    || nx == b"immediate"
                    || nx == b"master"
                    || nx.starts_with(b"xp_")
                    || nx.starts_with(b"sp_")
            }
            b"shutdown" => starts(1) && matches!(k(0), K::End | K::Semi),
            _ => false,
        };
        if shape {
            return at(1);
        }
    }
    // `(..) values (`
    if n >= 3 && k(2) == K::RParen && k(1) == K::Kw && is(s, &w[1], "values") && k(0) == K::LParen {
        return at(1);
    }
    if n >= 2 && k(1) == K::Kw && is(s, &w[1], "procedure") && is(s, &w[0], "analyse") {
        return at(1);
    }
    call_rules(s, w, n)
}

/// The rules of [`rules`] from database function calls on.
#[inline(never)] // See `rules`.
fn call_rules(s: &[u8], w: &[Tok; 6], n: usize) -> Option<usize> {
    let k = |i: usize| w[i].k;
    let at = |i: usize| Some(w[i].a);
    // Database function calls with SQL-shaped arguments.
    if n >= 3
        && k(2) == K::Func
        && k(1) == K::LParen
        && in_table(word(s, &w[2]), STRONG_FUNCS)
        && matches!(k(0), K::Func | K::Select | K::Var | K::End)
    {
        return at(2);
    }
    // `version()`, `database()`: an empty call reveals something only for functions that take
    // no argument, and prose names functions that way (`the char() function`).
    if n >= 3
        && k(2) == K::Func
        && k(1) == K::LParen
        && k(0) == K::RParen
        && in_table(word(s, &w[2]), INFO_FUNCS)
        && (n == 3 || !matches!(k(3), K::Word | K::Kw))
    {
        return at(2);
    }
    if n >= 4
        && k(3) == K::Func
        && k(2) == K::LParen
        && operand(k(1))
        && in_table(word(s, &w[3]), STRONG_FUNCS)
        && matches!(k(0), K::RParen | K::Comma | K::Op | K::Cmp | K::End)
    {
        return at(3);
    }
    // A value that only opens a call: `concat(`, `trim(`, `current_user(`.
    if n == 3 && k(2) == K::Func && k(1) == K::LParen && k(0) == K::End {
        let f = word(s, &w[2]);
        if in_table(f, FUNCS) || in_table(f, STRONG_FUNCS) {
            return at(2);
        }
    }
    if n >= 2 && k(1) == K::Kw && is(s, &w[1], "having") && k(0) == K::Func {
        return at(1);
    }
    // Column-count probes: `1 order by 3`, `' group by 2--`, a value that is only `order by 5`.
    if n >= 3
        && k(2) == K::Kw
        && (is(s, &w[2], "order") || is(s, &w[2], "group"))
        && is(s, &w[1], "by")
        && k(0) == K::Num
        && (n == 3 || matches!(k(3), K::Num | K::Str | K::RParen))
    {
        return at(2);
    }
    if n >= 3 && k(2) == K::Kw && is(s, &w[2], "having") && operand(k(1)) && k(0) == K::Cmp {
        return at(2);
    }
    // `(case when 1=1 then ..`, `' and case when`: a conditional where an expression goes.
    if n >= 3
        && k(2) == K::Kw
        && matches!(k(1), K::Word | K::Func)
        && is(s, &w[2], "case")
        && is(s, &w[1], "when")
        && matches!(
            k(0),
            K::Num | K::Str | K::LParen | K::Func | K::Var | K::Select
        )
        && (n == 3
            || matches!(
                k(3),
                K::LParen | K::Logic | K::Cmp | K::Select | K::Comma | K::Str | K::Num | K::Op
            ))
    {
        return at(2);
    }
    // `into outfile '/var/www/x.php'`, `into dumpfile`.
    if n >= 2
        && k(1) == K::Kw
        && k(0) == K::Word
        && is(s, &w[1], "into")
        && (is(s, &w[0], "outfile") || is(s, &w[0], "dumpfile"))
    {
        return at(1);
    }
    // PostgreSQL: `)::text`, `'..'::jsonb`, `'..' @> '..'`, `'..' ? 'a'`.
    if n >= 3
        && matches!(k(2), K::RParen | K::Str)
        && k(1) == K::Cast
        && matches!(k(0), K::Word | K::Kw)
        && in_table(word(s, &w[0]), PG_TYPES)
    {
        return at(1);
    }
    // `'{"a":1}'::jsonb @> '{}'`, `'{..}' ? 'a'`: JSON operators on a JSON literal (prose
    // asks `"this"? "or that"`).
    if n >= 3
        && k(2) == K::Str
        && json_literal(s, &w[2])
        && k(1) == K::JsonOp
        && (matches!(k(0), K::Str | K::Num) || is(s, &w[0], "array"))
    {
        return at(1);
    }
    if n >= 3 && k(2) == K::Str && k(1) == K::Cmp && k(0) == K::Str && !is(s, &w[1], "is") {
        return at(1);
    }
    // `' regexp`, `` ` rlike``: a pattern match right after a closed string.
    if n >= 2
        && matches!(k(1), K::RParen | K::Str)
        && k(0) == K::Cmp
        && (is(s, &w[0], "regexp") || is(s, &w[0], "rlike"))
    {
        return at(0);
    }
    // `') like '%`: prose and User-Agents close groups before words (`rv:11.0) like
    // Gecko`), so after `like` the pattern must be a literal, a group or a call.
    if n >= 3
        && k(2) == K::RParen
        && k(1) == K::Cmp
        && is(s, &w[1], "like")
        && matches!(k(0), K::Str | K::Num | K::LParen | K::Func | K::Var)
    {
        return at(1);
    }
    // `1.e(`, `1.e,`: glued, as the trick needs (`Hyperlink/2.5e (Commodore 64)` is not).
    if n >= 2
        && k(1) == K::NumE
        && w[0].a == w[1].b
        && matches!(k(0), K::LParen | K::Comma | K::Word | K::Func | K::Select)
    {
        return at(1);
    }
    if n >= 4 && operand(k(3)) && is(s, &w[2], "as") && k(1) == K::Str && k(0) == K::From {
        return at(2);
    }
    // Catalog names where a query names a table (`from`, `,`, `(`, a qualified `x.y`), or
    // alone: prose mentions them (`the sqlite_master table`, `an SQLITE_SCHEMA error`).
    if matches!(k(0), K::Word | K::Func | K::Stmt)
        && catalog(word(s, &w[0]))
        && (n == 1
            || matches!(
                k(1),
                K::From | K::Dot | K::Comma | K::LParen | K::Select | K::Semi | K::Stmt | K::Union
            ))
    {
        return at(0);
    }
    if n >= 2
        && k(0) == K::Dot
        && matches!(k(1), K::Word | K::Func | K::Stmt)
        && catalog(word(s, &w[1]))
    {
        return at(1);
    }
    // `mysql.user`, `master..sysdatabases`
    if n >= 3
        && k(1) == K::Dot
        && is(s, &w[2], "mysql")
        && (is(s, &w[0], "user") || is(s, &w[0], "db"))
    {
        return at(2);
    }
    if n >= 3 && is(s, &w[2], "master") && k(1) == K::Dot && k(0) == K::Dot {
        return at(2);
    }
    None
}

#[cfg(test)]
#[test]
fn catalog_gate_covers_the_table() {
    for w in CATALOG {
        assert!(
            catalog(w.as_bytes()) && catalog(w.to_ascii_uppercase().as_bytes()),
            "{w}"
        );
    }
}

#[cfg(test)]
pub(crate) fn tables() -> [&'static [&'static str]; 8] {
    [
        LOGIC,
        STMT,
        KW,
        STRONG_FUNCS,
        FUNCS,
        CATALOG,
        PG_TYPES,
        INFO_FUNCS,
    ]
}
