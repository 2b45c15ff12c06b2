//! Built-in overview and remediation texts for the 4XX filter; a rule may override both.

use crate::model::payload::{Overview, Remediation, RemediationStep};

pub(crate) fn overview_4xx() -> Overview {
    Overview {
        description: "One actor (a client IP, an IPv6 /64, or an API credential) received an unusually high number of 4XX responses in a short window. actorwatch counted every such response at the proxy or the edge and raised this event when the configured threshold was reached inside the sliding window.".into(),
        details: "Legitimate clients rarely collect many client errors in a row. Bursts of 404s usually mean path or ID enumeration (a scanner walking routes, a script guessing object IDs); bursts of 401s and 403s usually mean credential stuffing, token guessing or probing for broken authorization; bursts of 400s and 422s often mean a fuzzer. The samples in this event are the latest counted requests, with credential headers removed.".into(),
        impact: "Enumeration maps your API surface and finds objects that should not be reachable; credential stuffing leads to account takeover; sustained error floods cost capacity and hide other attacks in the noise. An actor that keeps going after this event is likely automated and targeted.".into(),
    }
}

pub(crate) fn remediation_4xx() -> Remediation {
    Remediation {
        title: "Contain the actor and close what it was probing for".into(),
        steps: vec![
            RemediationStep {
                title: "Confirm the actor and what it targeted".into(),
                text: "Look up the actor in your access logs for the event's window: which paths, methods and statuses it produced, and whether any response in between was a 2XX (a hit among the misses).".into(),
            },
            RemediationStep {
                title: "Block or throttle it".into(),
                text: "Switch the rule to blocking so repeat offenders are answered at the proxy for a while:\n```json\n{\"id\": \"4XX_FILTER\", \"threshold\": 10, \"window_secs\": 60, \"action\": \"block\", \"block_secs\": 600, \"block_status\": 429}\n```\nBehind a load balancer, make sure the actor is the real client: configure `actor.sources` with `xff` and `trusted_proxies`.".into(),
            },
            RemediationStep {
                title: "Harden the targeted endpoints".into(),
                text: "Use unguessable identifiers, return the same status for \"not found\" and \"not yours\", add rate limits and lockouts to authentication endpoints, and require MFA where credentials are being tested.".into(),
            },
        ],
    }
}
