//! An actor's wire form, the same in deltas, snapshots and fleet batches: a tag, then its
//! bytes.

use crate::base::wire::{put_str, Reader, WireError};
use crate::model::actor::ActorKey;

pub(crate) trait ActorWire: Sized {
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError>;
}

impl ActorWire for ActorKey {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ActorKey::V4(o) => {
                out.push(4);
                out.extend_from_slice(o);
            }
            ActorKey::V6(o) => {
                out.push(6);
                out.extend_from_slice(o);
            }
            ActorKey::Digest { source, hash } => {
                out.push(b'D');
                out.push(*source);
                out.extend_from_slice(hash);
            }
            ActorKey::Text { source, value } => {
                out.push(b'T');
                out.push(*source);
                put_str(out, value);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<ActorKey, WireError> {
        Ok(match r.byte()? {
            4 => ActorKey::V4(r.take()?),
            6 => ActorKey::V6(r.take()?),
            b'D' => ActorKey::Digest {
                source: r.byte()?,
                hash: r.take()?,
            },
            b'T' => ActorKey::Text {
                source: r.byte()?,
                value: r.str()?.into(),
            },
            t => return Err(WireError::BadTag(t)),
        })
    }
}
