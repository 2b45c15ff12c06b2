//! The bootstrap extension's hooks and the access logger's (`envoy_dynamic_module_on_bootstrap_*`,
//! `envoy_dynamic_module_on_access_logger_*`). Every bootstrap hook runs on the main thread; the
//! log hook on the worker that served the stream. Each runs inside the panic barrier.
//!
//! Ownership: the bootstrap's config_new hands Envoy an `Arc<Service>` (freed in its
//! config_destroy); an access logger's config_new a boxed `Logger` (freed in its config_destroy),
//! which Envoy also passes as every thread's logger.

use super::{callout_answer, copy, EnvoyBuffer, HeaderPair, LogEntry, ServiceHandle};
use crate::barrier::guard;
use crate::filter::StreamFilter;
use crate::module::log;
use crate::service::{Logger, Service};
use std::ffi::c_void;
use std::sync::Arc;

/// The `Service` behind a pointer config_new made.
///
/// SAFETY: `ptr` came from `Arc::into_raw` in config_new and config_destroy has not run.
unsafe fn service<'a>(ptr: *const c_void) -> Option<&'a Service> {
    (ptr as *const Service).as_ref()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_config_new(
    config_envoy: *mut c_void,
    _name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: Envoy's buffer for this hook, copied; its config object lives until
        // config_destroy.
        let (config, handle) = unsafe { (copy(config), ServiceHandle::new(config_envoy)) };
        match Service::start(&config, handle, super::concurrency()) {
            Some(service) => Arc::into_raw(service).cast(),
            None => std::ptr::null(),
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_config_destroy(
    config_module: *const c_void,
) {
    if config_module.is_null() {
        return;
    }
    // SAFETY: the Arc config_new leaked; Envoy destroys the configuration once.
    let service = unsafe { Arc::from_raw(config_module as *const Service) };
    guard((), move || service.close());
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_new(
    config_module: *const c_void,
    _extension_envoy: *mut c_void,
) -> *const c_void {
    // The extension is its configuration: every hook gets the same pointer.
    config_module
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_timer_fired(
    _config_envoy: *mut c_void,
    config_module: *const c_void,
    _timer: *mut c_void,
) {
    // SAFETY: see `service`.
    if let Some(service) = unsafe { service(config_module) } {
        guard((), || service.fired());
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_http_callout_done(
    _config_envoy: *mut c_void,
    config_module: *const c_void,
    callout_id: u64,
    _result: u32,
    headers: *const HeaderPair,
    headers_size: usize,
    body_chunks: *const EnvoyBuffer,
    body_chunks_size: usize,
) {
    // SAFETY: see `service`; Envoy's answer buffers live during this hook and are copied.
    let (service, (status, body)) = unsafe {
        (
            service(config_module),
            callout_answer(headers, headers_size, body_chunks, body_chunks_size),
        )
    };
    if let Some(service) = service {
        guard((), || service.answered(callout_id, status, &body));
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_shutdown(
    _extension_envoy: *mut c_void,
    _extension_module: *const c_void,
    completion: Option<extern "C" fn(*mut c_void)>,
    completion_context: *mut c_void,
) {
    // Nothing to finish: Envoy may go on at once (it waits for this call, exactly once).
    if let Some(done) = completion {
        done(completion_context);
    }
}

// Bootstrap hooks this extension has no use for; Envoy requires every one of them.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_server_initialized(
    _extension_envoy: *mut c_void,
    _extension_module: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_worker_thread_initialized(
    _extension_envoy: *mut c_void,
    _extension_module: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_drain_started(
    _extension_envoy: *mut c_void,
    _extension_module: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_destroy(
    _extension_module: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_config_scheduled(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _event_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_file_changed(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _path: EnvoyBuffer,
    _events: u32,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_admin_request(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _method: EnvoyBuffer,
    _path: EnvoyBuffer,
    _body: EnvoyBuffer,
) -> u32 {
    404
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_cluster_add_or_update(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _cluster_name: EnvoyBuffer,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_cluster_removal(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _cluster_name: EnvoyBuffer,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_listener_add_or_update(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _listener_name: EnvoyBuffer,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_bootstrap_extension_listener_removal(
    _config_envoy: *mut c_void,
    _config_module: *const c_void,
    _listener_name: EnvoyBuffer,
) {
}

// The access logger.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_access_logger_config_new(
    _config_envoy: *mut c_void,
    _name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: Envoy's buffer for this hook, copied.
        let config = unsafe { copy(config) };
        match Logger::new(&config, log) {
            Some(logger) => Box::into_raw(Box::new(logger)) as *const c_void,
            None => std::ptr::null(),
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_access_logger_config_destroy(
    config_module: *const c_void,
) {
    if config_module.is_null() {
        return;
    }
    // SAFETY: the box config_new made; Envoy destroys the configuration once.
    let logger = unsafe { Box::from_raw(config_module as *mut Logger) };
    guard((), move || drop(logger));
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_access_logger_new(
    config_module: *const c_void,
    _logger_envoy: *mut c_void,
) -> *const c_void {
    // Every thread's logger is the configuration: its state lives in the worker slots.
    config_module
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_access_logger_log(
    logger_envoy: *mut c_void,
    logger_module: *const c_void,
    _log_type: u32,
) {
    // SAFETY: the configuration's box, live while its loggers are; the entry pointer is live
    // during this hook.
    let (logger, entry) = unsafe {
        (
            (logger_module as *const Logger).as_ref(),
            LogEntry::new(logger_envoy),
        )
    };
    if let Some(logger) = logger {
        guard((), || StreamFilter::logged(logger.service.shared(), &entry));
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_access_logger_destroy(_logger_module: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_access_logger_flush(_logger_module: *const c_void) {}
