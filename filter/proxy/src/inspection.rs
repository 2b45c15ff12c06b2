//! The request inspection the filter runs: the core's [`Inspector`] with the `inspect` feature.
//! A lean build without it (`make build-lean`) has no request matchers, and its validation
//! refuses every threat rule that reads requests: its inspector has no rule and answers every
//! question with "no", so that the filter's request path compiles the same in both builds.

#[cfg(feature = "inspect")]
pub use actorwatch_core::{inspect::Request, Inspector};

#[cfg(not(feature = "inspect"))]
pub use lean::{Inspector, Request};

#[cfg(not(feature = "inspect"))]
mod lean {
    use actorwatch_core::{BlockedReply, Config, Headers, Inspection};
    use std::sync::Arc;

    /// A request, as the core's inspector would read it.
    // Nothing reads it in this build.
    #[allow(dead_code)]
    pub struct Request<'a> {
        pub method: &'a str,
        pub path: &'a str,
        pub headers: &'a dyn Headers,
        pub body: &'a [u8],
    }

    /// No threat rule inspects requests in this build.
    pub struct Inspector;

    impl Inspector {
        pub fn new(_cfg: Arc<Config>) -> Inspector {
            Inspector
        }

        pub fn is_active(&self) -> bool {
            false
        }

        pub fn wants_body(&self) -> bool {
            false
        }

        pub fn blocks(&self) -> bool {
            false
        }

        pub fn body_max_bytes(&self) -> usize {
            0
        }

        pub fn body_cut(&self, _seen: usize) -> (usize, bool) {
            (0, false)
        }

        pub fn inspect(&self, _now_ms: u64, _req: &Request, _out: &mut Inspection) -> u64 {
            0
        }

        pub fn block_reply(&self, _inspection: &Inspection) -> Option<BlockedReply> {
            None
        }

        pub fn reads_responses(&self) -> bool {
            false
        }

        pub fn response_body_max_bytes(&self) -> usize {
            0
        }

        pub fn wants_response(&self, _status: u16, _inspection: Option<&Inspection>) -> bool {
            false
        }

        pub fn may_want_response(&self, _inspection: Option<&Inspection>) -> bool {
            false
        }

        pub fn is_encoded(_content_encoding: Option<&str>) -> bool {
            false
        }

        pub fn inspect_response(&self, _status: u16, _body: &[u8], _out: &mut Inspection) -> u64 {
            0
        }
    }
}
