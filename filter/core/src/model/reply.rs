//! What a request answered before the upstream gets, the same bytes in every host: an actor on
//! the blocklist (with how long it stays there) or a request a blocking threat rule matched.

/// A local reply: its status, headers and JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedReply {
    pub status: u16,
    /// Seconds until the actor's block ends; `None` for a request a threat rule blocked.
    pub retry_after_secs: Option<u64>,
}

impl BlockedReply {
    /// The reply to an actor blocked for `retry_after_secs` more.
    pub(crate) fn actor(status: u16, retry_after_secs: u64) -> Self {
        BlockedReply {
            status,
            retry_after_secs: Some(retry_after_secs),
        }
    }

    /// The reply to one request a blocking threat rule matched.
    pub(crate) fn request(status: u16) -> Self {
        BlockedReply {
            status,
            retry_after_secs: None,
        }
    }

    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(secs) = self.retry_after_secs {
            headers.push(("retry-after", secs.to_string()));
        }
        headers
    }

    pub fn body(&self) -> String {
        match self.retry_after_secs {
            Some(secs) => format!(
                "{{\"error\":\"too many client errors\",\"blocked_by\":\"actorwatch\",\"retry_after_secs\":{secs}}}"
            ),
            None => "{\"error\":\"request blocked\",\"blocked_by\":\"actorwatch\"}".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn both_replies_are_json_and_only_a_blocked_actor_gets_retry_after() {
        let actor = BlockedReply::actor(429, 30);
        let request = BlockedReply::request(403);
        for reply in [actor, request] {
            let body: serde_json::Value = serde_json::from_str(&reply.body()).unwrap();
            assert_eq!(body["blocked_by"], "actorwatch");
            assert_eq!(
                reply.headers()[0],
                ("content-type", "application/json".to_string())
            );
        }
        assert_eq!(actor.headers()[1], ("retry-after", "30".to_string()));
        assert_eq!(request.headers().len(), 1);
    }
}
