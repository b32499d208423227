//! The C interface of `cpp/c10d_shim.cpp`. Every function that can fail returns 0 on
//! success, or writes a message (to free with `ar_free_string`) into `err`.

use std::ffi::{c_char, c_void};

/// A process group with its store (opaque).
#[repr(C)]
pub struct ArGroup {
    _private: [u8; 0],
}

unsafe extern "C" {
    pub fn ar_group_new(
        backend: *const c_char,
        host: *const c_char,
        port: u16,
        rank: i32,
        world_size: i32,
        timeout_ms: i64,
        store_is_external: i32,
        nccl_plugin: *const c_char,
        device_index: i32,
        err: *mut *mut c_char,
    ) -> *mut ArGroup;
    pub fn ar_group_free(group: *mut ArGroup);
    pub fn ar_all_reduce_sum(group: *mut ArGroup, tensor: *mut c_void, err: *mut *mut c_char) -> i32;
    pub fn ar_broadcast(group: *mut ArGroup, tensor: *mut c_void, root: i32, err: *mut *mut c_char) -> i32;
    pub fn ar_barrier(group: *mut ArGroup, timeout_ms: i64, err: *mut *mut c_char) -> i32;
    pub fn ar_free_string(s: *mut c_char);
}
