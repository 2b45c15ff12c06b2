//! Byte strings of any length in Durable Object storage, split so that no stored value exceeds
//! 128 KiB. A blob `name` lives in two slots (`name:a:<i>`, `name:b:<i>`) and a head
//! (`name:head`, a small JSON document) naming the slot that holds it: a save writes the other
//! slot, then the head, so a save cut short leaves the previous blob whole.

use serde::{Deserialize, Serialize};
use worker::js_sys::{Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::*;

/// Bytes per stored chunk: with the few bytes storage adds to a byte array, under 128 KiB.
pub const CHUNK_BYTES: usize = 126 * 1024;
/// Most keys one storage call reads, writes or deletes.
pub const KEYS_PER_CALL: usize = 128;

/// Where a blob is: the slot of its chunks, each slot's chunk count, its length, and a small
/// JSON value saved with it (the shard's counters).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq, Eq)]
pub struct Head {
    slot: usize,
    chunks: [usize; 2],
    len: usize,
    #[serde(default)]
    pub meta: Option<String>,
}

fn slot_name(slot: usize) -> &'static str {
    if slot == 0 {
        "a"
    } else {
        "b"
    }
}

fn chunk_key(name: &str, slot: usize, i: usize) -> String {
    format!("{name}:{}:{i}", slot_name(slot))
}

fn head_key(name: &str) -> String {
    format!("{name}:head")
}

/// The blob `name` and its head (`None`: never saved, or cleared).
pub async fn load(storage: &Storage, name: &str) -> Result<Option<(Head, Vec<u8>)>> {
    let Some(text) = storage.get::<String>(&head_key(name)).await? else {
        return Ok(None);
    };
    let head: Head = serde_json::from_str(&text).map_err(|e| Error::RustError(e.to_string()))?;
    let count = head.chunks.get(head.slot).copied().unwrap_or(0);
    let keys: Vec<String> = (0..count).map(|i| chunk_key(name, head.slot, i)).collect();
    let mut bytes = Vec::with_capacity(head.len);
    for group in keys.chunks(KEYS_PER_CALL) {
        let values = storage.get_multiple(group.to_vec()).await?;
        for key in group {
            let chunk = values
                .get(&JsValue::from_str(key))
                .dyn_into::<Uint8Array>()
                .map_err(|_| Error::RustError(format!("{key}: missing")))?;
            bytes.extend_from_slice(&chunk.to_vec());
        }
    }
    if bytes.len() != head.len {
        return Err(Error::RustError(format!(
            "{name}: {} bytes stored, head says {}",
            bytes.len(),
            head.len
        )));
    }
    Ok(Some((head, bytes)))
}

/// Saves `bytes` (and `meta`) as the blob `name` whose head is now `head`; returns the new head
/// and the values written. Saves of one blob must not overlap.
pub async fn save(
    storage: &Storage,
    name: &str,
    head: &Head,
    bytes: &[u8],
    meta: Option<String>,
) -> Result<(Head, usize)> {
    let slot = 1 - head.slot.min(1);
    let count = bytes.len().div_ceil(CHUNK_BYTES);
    let mut next = head.clone();
    next.slot = slot;
    next.len = bytes.len();
    next.meta = meta;
    let before = next.chunks.get(slot).copied().unwrap_or(0);
    if let Some(c) = next.chunks.get_mut(slot) {
        *c = count;
    }
    let head_text = serde_json::to_string(&next).map_err(|e| Error::RustError(e.to_string()))?;
    let mut pairs: Vec<(String, JsValue)> = bytes
        .chunks(CHUNK_BYTES)
        .enumerate()
        .map(|(i, c)| (chunk_key(name, slot, i), Uint8Array::from(c).into()))
        .collect();
    // The head goes last: with the chunks before it, in the same call when they fit.
    pairs.push((head_key(name), JsValue::from_str(&head_text)));
    let written = pairs.len();
    for group in pairs.chunks(KEYS_PER_CALL) {
        let object = Object::new();
        for (key, value) in group {
            Reflect::set(&object, &JsValue::from_str(key), value)?;
        }
        storage.put_multiple_raw(object).await?;
    }
    // Chunks this slot no longer uses (the blob shrank).
    let stale: Vec<String> = (count..before).map(|i| chunk_key(name, slot, i)).collect();
    for group in stale.chunks(KEYS_PER_CALL) {
        storage.delete_multiple(group.to_vec()).await?;
    }
    Ok((next, written))
}

/// Deletes the blob `name` (both slots and the head).
pub async fn clear(storage: &Storage, name: &str, head: &Head) -> Result<()> {
    let mut keys = vec![head_key(name)];
    for (slot, &count) in head.chunks.iter().enumerate() {
        keys.extend((0..count).map(|i| chunk_key(name, slot, i)));
    }
    for group in keys.chunks(KEYS_PER_CALL) {
        storage.delete_multiple(group.to_vec()).await?;
    }
    Ok(())
}
