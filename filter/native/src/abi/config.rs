//! A configuration's Envoy side, used on the main thread: callouts and metrics through the same
//! shapes for an HTTP filter's configuration and the bootstrap extension's ([`EnvoyConfig`]),
//! the filter's scheduler and the extension's start-up gate and timer.

use super::ffi::*;
use super::module_pairs;
use std::ffi::c_void;

type CalloutFn = unsafe extern "C" fn(
    *mut c_void,
    *mut u64,
    ModuleBuffer,
    *const HeaderPair,
    usize,
    ModuleBuffer,
    u64,
) -> u32;
type DefineFn =
    unsafe extern "C" fn(*mut c_void, ModuleBuffer, *const ModuleBuffer, usize, *mut usize) -> u32;
type UpdateFn = unsafe extern "C" fn(*mut c_void, usize, *const ModuleBuffer, usize, u64) -> u32;

/// The callbacks through which a configuration object calls out and keeps metrics: an HTTP
/// filter's configuration and the bootstrap extension's have the same shapes under two names.
struct ConfigApi {
    callout: CalloutFn,
    define_counter: DefineFn,
    define_gauge: DefineFn,
    increment_counter: UpdateFn,
    set_gauge: UpdateFn,
}

static FILTER_CONFIG_API: ConfigApi = ConfigApi {
    callout: envoy_dynamic_module_callback_http_filter_config_http_callout,
    define_counter: envoy_dynamic_module_callback_http_filter_config_define_counter,
    define_gauge: envoy_dynamic_module_callback_http_filter_config_define_gauge,
    increment_counter: envoy_dynamic_module_callback_http_filter_config_increment_counter,
    set_gauge: envoy_dynamic_module_callback_http_filter_config_set_gauge,
};

static SERVICE_CONFIG_API: ConfigApi = ConfigApi {
    callout: envoy_dynamic_module_callback_bootstrap_extension_http_callout,
    define_counter: envoy_dynamic_module_callback_bootstrap_extension_config_define_counter,
    define_gauge: envoy_dynamic_module_callback_bootstrap_extension_config_define_gauge,
    increment_counter: envoy_dynamic_module_callback_bootstrap_extension_config_increment_counter,
    set_gauge: envoy_dynamic_module_callback_bootstrap_extension_config_set_gauge,
};

/// A configuration's Envoy side (an HTTP filter's or the bootstrap extension's): callouts and
/// metrics, used on the main thread. The answer to a callout arrives in that configuration's
/// callout-done hook.
#[derive(Clone, Copy)]
pub struct EnvoyConfig {
    ptr: *mut c_void,
    api: &'static ConfigApi,
}

// SAFETY: Envoy's configuration object outlives every use (its config_destroy comes last), and
// the module calls it from the main thread only (config_new, scheduled and timer hooks,
// callout_done).
unsafe impl Send for EnvoyConfig {}
// SAFETY: as above; shared references are only used on the main thread.
unsafe impl Sync for EnvoyConfig {}

impl EnvoyConfig {
    /// Starts a POST-like call to `cluster`.
    pub fn callout(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<u64, u32> {
        let pairs = module_pairs(headers);
        let mut id = 0u64;
        // SAFETY: Envoy copies the cluster name, headers and body during the call.
        let result = unsafe {
            (self.api.callout)(
                self.ptr,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                pairs.as_ptr(),
                pairs.len(),
                ModuleBuffer::of(body),
                timeout_ms,
            )
        };
        if result == CALLOUT_SUCCESS {
            Ok(id)
        } else {
            Err(result)
        }
    }

    /// A counter (`gauge` false) or gauge named `name` under the module's metrics namespace,
    /// with the labels `labels` (none, or one).
    pub fn define_metric(&self, name: &str, gauge: bool, labels: &[&str]) -> Option<usize> {
        let mut id = 0usize;
        let labels: Vec<ModuleBuffer> = labels
            .iter()
            .map(|l| ModuleBuffer::of(l.as_bytes()))
            .collect();
        let define = if gauge {
            self.api.define_gauge
        } else {
            self.api.define_counter
        };
        // SAFETY: Envoy copies the name and the labels' names during the call.
        let result = unsafe {
            define(
                self.ptr,
                ModuleBuffer::of(name.as_bytes()),
                labels.as_ptr(),
                labels.len(),
                &mut id,
            )
        };
        (result == METRICS_SUCCESS).then_some(id)
    }

    /// Adds `by` to a counter this configuration defined, with as many label values as it
    /// has labels.
    pub fn increment_counter(&self, id: usize, label_values: &[&str], by: u64) {
        self.update(self.api.increment_counter, id, label_values, by);
    }

    /// Sets a gauge this configuration defined, with as many label values as it has labels.
    pub fn set_gauge(&self, id: usize, label_values: &[&str], value: u64) {
        self.update(self.api.set_gauge, id, label_values, value);
    }

    fn update(&self, call: UpdateFn, id: usize, label_values: &[&str], value: u64) {
        let values: Vec<ModuleBuffer> = label_values
            .iter()
            .map(|v| ModuleBuffer::of(v.as_bytes()))
            .collect();
        // SAFETY: an id this configuration defined; Envoy copies the label values.
        unsafe {
            call(self.ptr, id, values.as_ptr(), values.len(), value);
        }
    }
}

/// An HTTP filter configuration's Envoy side: an [`EnvoyConfig`] and its scheduler.
#[derive(Clone, Copy)]
pub struct ConfigHandle(EnvoyConfig);

impl ConfigHandle {
    /// SAFETY: `ptr` is the `config_envoy_ptr` of config_new, used until config_destroy.
    pub unsafe fn new(ptr: *mut c_void) -> ConfigHandle {
        ConfigHandle(EnvoyConfig {
            ptr,
            api: &FILTER_CONFIG_API,
        })
    }

    pub fn calls(&self) -> &EnvoyConfig {
        &self.0
    }

    /// A scheduler whose commits, from any thread, run config_scheduled on the main thread.
    pub fn scheduler(&self) -> Option<Scheduler> {
        // SAFETY: the config pointer is live; Envoy returns a scheduler or null.
        let ptr =
            unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_new(self.0.ptr) };
        (!ptr.is_null()).then_some(Scheduler(ptr))
    }
}

/// Puts an event on the main thread's queue (config_scheduled), from any thread.
pub struct Scheduler(*mut c_void);

// SAFETY: Envoy documents commit as callable from any thread; delete runs once, in Drop.
unsafe impl Send for Scheduler {}
// SAFETY: as above.
unsafe impl Sync for Scheduler {}

impl Scheduler {
    pub fn commit(&self, event_id: u64) {
        // SAFETY: the scheduler lives until Drop.
        unsafe {
            envoy_dynamic_module_callback_http_filter_config_scheduler_commit(self.0, event_id)
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // SAFETY: created by scheduler_new, deleted once.
        unsafe { envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.0) }
    }
}

/// The bootstrap extension's Envoy side: an [`EnvoyConfig`], its start-up gate and its timer.
#[derive(Clone, Copy)]
pub struct ServiceHandle(EnvoyConfig);

impl ServiceHandle {
    /// SAFETY: `ptr` is the `config_envoy_ptr` of the bootstrap's config_new.
    pub unsafe fn new(ptr: *mut c_void) -> ServiceHandle {
        ServiceHandle(EnvoyConfig {
            ptr,
            api: &SERVICE_CONFIG_API,
        })
    }

    pub fn calls(&self) -> &EnvoyConfig {
        &self.0
    }

    /// Lets Envoy finish starting (it waits for every bootstrap extension to say so).
    pub fn init_complete(&self) {
        // SAFETY: the config pointer is live.
        unsafe {
            envoy_dynamic_module_callback_bootstrap_extension_config_signal_init_complete(
                self.0.ptr,
            )
        }
    }

    /// A one-shot main-thread timer (re-armed in each firing).
    pub fn timer(&self) -> Option<Timer> {
        // SAFETY: the config pointer is live; Envoy returns a timer or null.
        let ptr =
            unsafe { envoy_dynamic_module_callback_bootstrap_extension_timer_new(self.0.ptr) };
        (!ptr.is_null()).then_some(Timer(ptr))
    }
}

/// A main-thread timer of the bootstrap extension.
pub struct Timer(*mut c_void);

// SAFETY: created, armed and deleted on the main thread only.
unsafe impl Send for Timer {}
// SAFETY: as above.
unsafe impl Sync for Timer {}

impl Timer {
    pub fn arm(&self, delay_ms: u64) {
        // SAFETY: the timer lives until Drop.
        unsafe { envoy_dynamic_module_callback_bootstrap_extension_timer_enable(self.0, delay_ms) }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: created by timer_new, deleted once.
        unsafe { envoy_dynamic_module_callback_bootstrap_extension_timer_delete(self.0) }
    }
}
