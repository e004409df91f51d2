//! The bottom of the agent and its only `unsafe` code: thin wrappers that
//! turn raw JVMTI/JNI calls into safe methods returning `Result`, the
//! `extern "C"` trampolines the JVM calls (each catches panics and hands
//! the event to the [`AgentEvents`] the agent installed), and the
//! [`export_agent!`] macro that generates the exported `Agent_OnLoad`,
//! `Agent_OnAttach` and `Agent_OnUnload` at the crate root for an
//! [`AgentStart`] implementation. Nothing here imports another module of
//! the agent except [`crate::messages`] (a leaf): events flow upward only
//! through those two traits.
//!
//! Bindings: we use the raw function table, callback and capability types
//! of `jvmti-rs` (checked below with compile-time layout asserts) and the
//! raw JNI types of `jni`. We do NOT use jvmti-rs's callback wrapper: it
//! keeps a `static mut` table and unwraps inside `extern "C"` handlers,
//! where a panic would take the JVM down.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_uchar, c_void, CStr, CString};
use std::marker::PhantomData;
use std::mem::{offset_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;

use jni::sys as jni_raw;
use jvmti_rs::sys as raw;

use crate::messages;

// ---------------------------------------------------------------------------
// Layout checks against the JVMTI specification (jvmti.h).
// ---------------------------------------------------------------------------

/// Index of a function in the JVMTI function table, as numbered by the spec.
const fn fn_slot(spec_number: usize) -> usize {
    (spec_number - 1) * size_of::<usize>()
}
const _: () = assert!(offset_of!(raw::jvmtiInterface_, SetEventNotificationMode) == fn_slot(2));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetThreadInfo) == fn_slot(9));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, RunAgentThread) == fn_slot(12));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, IsModifiableClass) == fn_slot(45));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, Deallocate) == fn_slot(47));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetClassSignature) == fn_slot(48));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetSourceFileName) == fn_slot(50));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetClassLoader) == fn_slot(57));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetLoadedClasses) == fn_slot(78));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetMethodName) == fn_slot(64));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetMethodDeclaringClass) == fn_slot(65));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetLineNumberTable) == fn_slot(70));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetStackTrace) == fn_slot(104));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetTag) == fn_slot(106));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, SetTag) == fn_slot(107));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, SetEventCallbacks) == fn_slot(122));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, GetSystemProperty) == fn_slot(131));
const _: () = assert!(offset_of!(raw::jvmtiInterface_, AddCapabilities) == fn_slot(142));
const _: () = assert!(size_of::<raw::jvmtiCapabilities>() == 16);
const _: () = assert!(size_of::<raw::jvmtiFrameInfo>() == 16);
const _: () = assert!(size_of::<raw::jvmtiLineNumberEntry>() == 16);
const _: () = assert!(size_of::<raw::jvmtiThreadInfo>() == 32);
/// Slot of an event callback in jvmtiEventCallbacks (event number - 50).
const fn event_slot(event: u32) -> usize {
    (event as usize - 50) * size_of::<usize>()
}
const _: () = assert!(offset_of!(raw::jvmtiEventCallbacks, VMInit) == event_slot(50));
const _: () = assert!(offset_of!(raw::jvmtiEventCallbacks, ClassFileLoadHook) == event_slot(54));
const _: () = assert!(offset_of!(raw::jvmtiEventCallbacks, ClassLoad) == event_slot(55));
const _: () = assert!(offset_of!(raw::jvmtiEventCallbacks, ResourceExhausted) == event_slot(80));
const _: () =
    assert!(offset_of!(raw::jvmtiEventCallbacks, GarbageCollectionStart) == event_slot(81));
const _: () =
    assert!(offset_of!(raw::jvmtiEventCallbacks, GarbageCollectionFinish) == event_slot(82));
const _: () = assert!(offset_of!(raw::jvmtiEventCallbacks, ObjectFree) == event_slot(83));
const _: () = assert!(raw::JVMTI_EVENT_CLASS_LOAD == 55 && raw::JVMTI_EVENT_VM_DEATH == 51);

const JNI_OK: i32 = 0;
const JNI_ERR: i32 = -1;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A JVMTI error code with the spec's name, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JvmtiError(pub u32);

impl JvmtiError {
    pub const WRONG_PHASE: JvmtiError = JvmtiError(raw::JVMTI_ERROR_WRONG_PHASE);
    const ABSENT_INFORMATION: JvmtiError = JvmtiError(raw::JVMTI_ERROR_ABSENT_INFORMATION);
    const NATIVE_METHOD: JvmtiError = JvmtiError(raw::JVMTI_ERROR_NATIVE_METHOD);
    const NULL_FUNCTION: JvmtiError = JvmtiError(u32::MAX);
}

impl std::fmt::Display for JvmtiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            15 => "THREAD_NOT_ALIVE",
            21 => "INVALID_CLASS",
            23 => "INVALID_METHODID",
            98 => "NOT_AVAILABLE",
            99 => "MUST_POSSESS_CAPABILITY",
            101 => "ABSENT_INFORMATION",
            104 => "NATIVE_METHOD",
            110 => "OUT_OF_MEMORY",
            112 => "WRONG_PHASE",
            113 => "INTERNAL",
            115 => "UNATTACHED_THREAD",
            116 => "INVALID_ENVIRONMENT",
            u32::MAX => "function missing from the JVMTI table",
            _ => "",
        };
        write!(f, "JVMTI error {} {}", self.0, name)
    }
}

fn check(code: raw::jvmtiError) -> Result<(), JvmtiError> {
    if code == raw::JVMTI_ERROR_NONE {
        Ok(())
    } else {
        Err(JvmtiError(code))
    }
}

/// Calls a JVMTI function through the env's table.
macro_rules! jvmti_call {
    ($env:expr, $func:ident $(, $arg:expr)* $(,)?) => {{
        let env: *mut raw::jvmtiEnv = $env;
        match (**env).$func {
            Some(f) => f(env $(, $arg)*),
            None => JvmtiError::NULL_FUNCTION.0,
        }
    }};
}

// ---------------------------------------------------------------------------
// Safe handles
// ---------------------------------------------------------------------------

/// The agent's JVMTI environment. JVMTI environments may be used from any
/// thread the JVM knows about, hence Send + Sync.
#[derive(Clone, Copy)]
pub struct Jvmti(*mut raw::jvmtiEnv);

// SAFETY: a jvmtiEnv pointer is valid for the life of the VM and JVMTI
// functions are thread-safe; we never dispose the environment.
unsafe impl Send for Jvmti {}
// SAFETY: see Send.
unsafe impl Sync for Jvmti {}

/// The JNI environment of the current thread, only valid on that thread
/// and during the callback or agent-thread body that received it.
#[derive(Clone, Copy)]
pub struct Jni<'scope> {
    env: *mut jni_raw::JNIEnv,
    _scope: PhantomData<&'scope ()>,
}

/// A JNI local reference (a class, a loader, a protection domain) handed
/// to us by the JVM; valid while `'scope` (the callback) lasts.
#[derive(Clone, Copy)]
pub struct LocalRef<'scope> {
    obj: jni_raw::jobject,
    _scope: PhantomData<&'scope ()>,
}

impl<'scope> LocalRef<'scope> {
    fn new(obj: *mut c_void) -> Option<LocalRef<'scope>> {
        (!obj.is_null()).then_some(LocalRef {
            obj: obj as jni_raw::jobject,
            _scope: PhantomData,
        })
    }
    fn raw(self) -> *mut c_void {
        self.obj as *mut c_void
    }
}

/// A jmethodID from a stack trace. jmethodIDs stay valid until their class
/// is unloaded (and are never freed before JDK 26); JVMTI reports
/// INVALID_METHODID for one whose class is gone rather than crashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct MethodId(usize);

/// One frame of a raw stack trace: a method and a bytecode index. Laid
/// out as JVMTI's `jvmtiFrameInfo`, so GetStackTrace writes into a
/// `Vec<RawFrame>` directly (no buffer to allocate and copy per class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct RawFrame {
    pub method: MethodId,
    pub location: i64,
}

/// One word per frame: the writer hashes every captured stack (up to 64
/// frames) to find it among those it has seen, and two words per frame
/// made that its largest single cost after the constant-pool walk. Equal
/// frames hash equal; the map compares the frames themselves.
impl std::hash::Hash for RawFrame {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.method.0 as u64 ^ (self.location as u64).rotate_left(48));
    }
}

const _: () = {
    use std::mem::align_of;
    assert!(size_of::<RawFrame>() == size_of::<raw::jvmtiFrameInfo>());
    assert!(align_of::<RawFrame>() == align_of::<raw::jvmtiFrameInfo>());
    assert!(offset_of!(RawFrame, method) == offset_of!(raw::jvmtiFrameInfo, method));
    assert!(offset_of!(RawFrame, location) == offset_of!(raw::jvmtiFrameInfo, location));
    assert!(size_of::<MethodId>() == size_of::<raw::jmethodID>());
};

#[cfg(test)]
impl MethodId {
    pub fn for_test(n: usize) -> MethodId {
        MethodId(n)
    }
}

/// The JVMTI events the agent uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Event {
    VmInit = raw::JVMTI_EVENT_VM_INIT,
    VmDeath = raw::JVMTI_EVENT_VM_DEATH,
    ClassFileLoadHook = raw::JVMTI_EVENT_CLASS_FILE_LOAD_HOOK,
    ClassLoad = raw::JVMTI_EVENT_CLASS_LOAD,
    ResourceExhausted = raw::JVMTI_EVENT_RESOURCE_EXHAUSTED,
    GarbageCollectionStart = raw::JVMTI_EVENT_GARBAGE_COLLECTION_START,
    GarbageCollectionFinish = raw::JVMTI_EVENT_GARBAGE_COLLECTION_FINISH,
    ObjectFree = raw::JVMTI_EVENT_OBJECT_FREE,
}

/// A string JVMTI allocated for us; deallocated on drop.
pub struct JvmtiString {
    jvmti: Jvmti,
    ptr: *mut c_char,
}

impl JvmtiString {
    /// The text, or "" if the JVM handed us invalid UTF-8 (modified UTF-8
    /// only differs for NUL and supplementary characters).
    pub fn as_str(&self) -> &str {
        if self.ptr.is_null() {
            return "";
        }
        // SAFETY: JVMTI returns a NUL-terminated string that lives until we
        // Deallocate it in drop.
        unsafe { CStr::from_ptr(self.ptr) }.to_str().unwrap_or("")
    }
}

impl Drop for JvmtiString {
    fn drop(&mut self) {
        self.jvmti.deallocate(self.ptr as *mut c_uchar);
    }
}

/// What JVMTI tells about a method, resolved on the writer thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodInfo {
    /// JVM signature of the declaring class, e.g. `Lcom/acme/Foo;`.
    pub class_signature: String,
    pub name: String,
    pub descriptor: String,
    pub source_file: Option<String>,
    /// (start bytecode index, line), sorted by start.
    pub lines: Vec<(i64, u32)>,
    /// Where the declaring class was loaded from (with code-source fields).
    pub location: Option<CodeLocation>,
}

impl Jvmti {
    fn deallocate(self, mem: *mut c_uchar) {
        if !mem.is_null() {
            // SAFETY: `mem` was allocated by this JVMTI env and is freed once.
            unsafe {
                jvmti_call!(self.0, Deallocate, mem);
            }
        }
    }

    fn owned(self, ptr: *mut c_char) -> JvmtiString {
        JvmtiString { jvmti: self, ptr }
    }

    pub fn class_signature(self, class: LocalRef<'_>) -> Result<JvmtiString, JvmtiError> {
        let mut sig: *mut c_char = ptr::null_mut();
        // SAFETY: `class` is a live local ref to a java.lang.Class; the out
        // pointer is valid; generic_ptr may be null per the spec.
        check(unsafe {
            jvmti_call!(
                self.0,
                GetClassSignature,
                class.raw() as _,
                &mut sig,
                ptr::null_mut()
            )
        })?;
        Ok(self.owned(sig))
    }

    /// False for hidden and VM-anonymous classes (and arrays, primitives):
    /// a cheap test, no allocation, no capability needed.
    pub fn is_modifiable_class(self, class: LocalRef<'_>) -> Result<bool, JvmtiError> {
        let mut modifiable: raw::jboolean = 0;
        // SAFETY: live class ref, valid out pointer.
        check(unsafe {
            jvmti_call!(self.0, IsModifiableClass, class.raw() as _, &mut modifiable)
        })?;
        Ok(modifiable != 0)
    }

    /// The defining loader, `None` for the bootstrap loader.
    pub fn class_loader<'s>(self, class: LocalRef<'s>) -> Result<Option<LocalRef<'s>>, JvmtiError> {
        let mut loader: raw::jobject = ptr::null_mut();
        // SAFETY: live class ref, valid out pointer. The returned local ref
        // belongs to the current callback frame.
        check(unsafe { jvmti_call!(self.0, GetClassLoader, class.raw() as _, &mut loader) })?;
        Ok(LocalRef::new(loader as *mut c_void))
    }

    /// The defining loader as a local ref deleted on drop, for agent and
    /// attach threads that walk many classes (their local refs would pile
    /// up until the thread returns to Java).
    pub fn class_loader_owned<'s>(
        self,
        jni: Jni<'s>,
        class: LocalRef<'_>,
    ) -> Result<Option<OwnedLocal<'s>>, JvmtiError> {
        Ok(self
            .class_loader(class)?
            .and_then(|loader| jni.adopt_local(loader.raw())))
    }

    pub fn tag(self, object: LocalRef<'_>) -> Result<i64, JvmtiError> {
        let mut tag: i64 = 0;
        // SAFETY: live object ref, valid out pointer.
        check(unsafe { jvmti_call!(self.0, GetTag, object.raw() as _, &mut tag) })?;
        Ok(tag)
    }

    pub fn set_tag(self, object: LocalRef<'_>, tag: i64) -> Result<(), JvmtiError> {
        // SAFETY: live object ref. Tags are weak: they do not keep the object alive.
        check(unsafe { jvmti_call!(self.0, SetTag, object.raw() as _, tag) })
    }

    /// Fills `frames` with the current thread's stack, innermost first.
    pub fn current_stack(self, frames: &mut Vec<RawFrame>, depth: u32) -> Result<(), JvmtiError> {
        frames.clear();
        if depth == 0 {
            return Ok(());
        }
        frames.reserve(depth as usize);
        let mut count: raw::jint = 0;
        // SAFETY: `frames` has room for `depth` frames, and RawFrame has
        // jvmtiFrameInfo's layout (checked above); a null thread means the
        // current thread; JVMTI writes `count` <= depth entries.
        check(unsafe {
            jvmti_call!(
                self.0,
                GetStackTrace,
                ptr::null_mut(),
                0,
                depth as raw::jint,
                frames.as_mut_ptr() as *mut raw::jvmtiFrameInfo,
                &mut count
            )
        })?;
        let count = (count.max(0) as usize).min(depth as usize);
        // SAFETY: JVMTI initialised the first `count` entries, and any
        // jmethodID / jlocation bit pattern is a valid RawFrame.
        unsafe { frames.set_len(count) };
        Ok(())
    }

    pub fn current_thread_name(self) -> Result<String, JvmtiError> {
        // SAFETY: zeroed is a valid bit pattern for this plain C struct.
        let mut info: raw::jvmtiThreadInfo = unsafe { std::mem::zeroed() };
        // SAFETY: null thread = current thread; valid out pointer. The local
        // refs in `info` die with the current callback frame.
        check(unsafe { jvmti_call!(self.0, GetThreadInfo, ptr::null_mut(), &mut info) })?;
        Ok(self.owned(info.name).as_str().to_string())
    }

    pub fn system_property(self, name: &str) -> Option<String> {
        let name = CString::new(name).ok()?;
        let mut value: *mut c_char = ptr::null_mut();
        // SAFETY: NUL-terminated name, valid out pointer.
        check(unsafe { jvmti_call!(self.0, GetSystemProperty, name.as_ptr(), &mut value) }).ok()?;
        Some(self.owned(value).as_str().to_string())
    }

    pub fn set_event(self, enabled: bool, event: Event) -> Result<(), JvmtiError> {
        let event = event as u32;
        let mode = if enabled {
            raw::JVMTI_ENABLE
        } else {
            raw::JVMTI_DISABLE
        };
        // SAFETY: a valid event number and a null thread (all threads).
        check(unsafe {
            jvmti_call!(
                self.0,
                SetEventNotificationMode,
                mode,
                event,
                ptr::null_mut()
            )
        })
    }

    /// Resolves a method on an attached thread (the writer). Deletes the
    /// local ref it creates, since the writer never returns to Java. With
    /// `fields`, also where its class came from (this calls
    /// `Class.getProtectionDomain()`: agent threads only).
    pub fn method_info(
        self,
        jni: Jni<'_>,
        method: MethodId,
        fields: Option<CodeSourceFields>,
    ) -> Result<MethodInfo, JvmtiError> {
        let m = method.0 as raw::jmethodID;
        let (mut name, mut sig): (*mut c_char, *mut c_char) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: `m` came from GetStackTrace; JVMTI validates it.
        check(unsafe {
            jvmti_call!(
                self.0,
                GetMethodName,
                m,
                &mut name,
                &mut sig,
                ptr::null_mut()
            )
        })?;
        let (name, sig) = (self.owned(name), self.owned(sig));
        let mut class: raw::jclass = ptr::null_mut();
        // SAFETY: as above; valid out pointer.
        check(unsafe { jvmti_call!(self.0, GetMethodDeclaringClass, m, &mut class) })?;
        let class = jni.adopt_local(class as *mut c_void);
        let class_ref = class
            .as_ref()
            .ok_or(JvmtiError(raw::JVMTI_ERROR_INVALID_METHODID))?;
        let class_signature = self.class_signature(class_ref.get())?.as_str().to_string();
        let mut file: *mut c_char = ptr::null_mut();
        // SAFETY: live class ref; valid out pointer.
        let source_file = match check(unsafe {
            jvmti_call!(
                self.0,
                GetSourceFileName,
                class_ref.get().raw() as _,
                &mut file
            )
        }) {
            Ok(()) => Some(self.owned(file).as_str().to_string()),
            Err(_) => None,
        };
        let mut count: raw::jint = 0;
        let mut table: *mut raw::jvmtiLineNumberEntry = ptr::null_mut();
        // SAFETY: valid method and out pointers.
        let lines = match check(unsafe {
            jvmti_call!(self.0, GetLineNumberTable, m, &mut count, &mut table)
        }) {
            Ok(()) => {
                let lines = if table.is_null() || count <= 0 {
                    Vec::new()
                } else {
                    // SAFETY: JVMTI returned `count` entries at `table`.
                    let entries = unsafe { std::slice::from_raw_parts(table, count as usize) };
                    let mut lines: Vec<(i64, u32)> = entries
                        .iter()
                        .map(|e| (e.start_location, e.line_number.max(0) as u32))
                        .collect();
                    lines.sort_unstable();
                    lines
                };
                self.deallocate(table as *mut c_uchar);
                lines
            }
            Err(e) if e == JvmtiError::ABSENT_INFORMATION || e == JvmtiError::NATIVE_METHOD => {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let location = fields.map(|fields| {
            jni.protection_domain(class_ref.get(), fields)
                .map_or(CodeLocation::None, |pd| jni.code_location(pd.get(), fields))
        });
        Ok(MethodInfo {
            class_signature,
            name: name.as_str().to_string(),
            descriptor: sig.as_str().to_string(),
            source_file,
            lines,
            location,
        })
    }

    /// Calls `f` with each loaded class (GetLoadedClasses), releasing each
    /// local ref as it goes: the attach thread may hold tens of thousands.
    pub fn for_each_loaded_class(
        self,
        jni: Jni<'_>,
        mut f: impl FnMut(LocalRef<'_>),
    ) -> Result<(), JvmtiError> {
        let mut count: raw::jint = 0;
        let mut classes: *mut raw::jclass = ptr::null_mut();
        // SAFETY: valid out pointers; JVMTI allocates the array.
        check(unsafe { jvmti_call!(self.0, GetLoadedClasses, &mut count, &mut classes) })?;
        if !classes.is_null() {
            // SAFETY: JVMTI returned `count` class refs at `classes`.
            let refs = unsafe { std::slice::from_raw_parts(classes, count.max(0) as usize) };
            for &class in refs {
                if let Some(local) = jni.adopt_local(class as *mut c_void) {
                    f(local.get());
                }
            }
            self.deallocate(classes as *mut c_uchar);
        }
        Ok(())
    }

    /// Adds the capabilities the agent needs and routes every JVMTI event
    /// it uses to `events` (once per JVM: the first install wins). Events
    /// stay off until [`Jvmti::set_event`] switches them on.
    pub fn install(self, events: &'static dyn AgentEvents) -> Result<(), String> {
        // SAFETY: zeroed capabilities = none requested.
        let mut caps: raw::jvmtiCapabilities = unsafe { std::mem::zeroed() };
        caps.set_can_tag_objects(1);
        caps.set_can_get_line_numbers(1);
        caps.set_can_get_source_file_name(1);
        caps.set_can_generate_garbage_collection_events(1);
        caps.set_can_generate_object_free_events(1);
        // SAFETY: valid pointer to an initialised capability set.
        check(unsafe { jvmti_call!(self.0, AddCapabilities, &caps) }).map_err(|e| {
            format!("cannot add JVMTI capabilities (tags, line numbers, source files, GC and free events): {e}")
        })?;
        let _ = EVENTS.set(events);
        // SAFETY: zeroed = every callback None.
        let mut callbacks: raw::jvmtiEventCallbacks = unsafe { std::mem::zeroed() };
        callbacks.VMInit = Some(on_vm_init);
        callbacks.VMDeath = Some(on_vm_death);
        callbacks.ClassFileLoadHook = Some(on_class_file_load_hook);
        callbacks.ClassLoad = Some(on_class_load);
        callbacks.ResourceExhausted = Some(on_resource_exhausted);
        callbacks.GarbageCollectionStart = Some(on_gc_start);
        callbacks.GarbageCollectionFinish = Some(on_gc_finish);
        callbacks.ObjectFree = Some(on_object_free);
        // SAFETY: the JVM copies the struct; size matches the struct we pass.
        check(unsafe {
            jvmti_call!(
                self.0,
                SetEventCallbacks,
                &callbacks,
                size_of::<raw::jvmtiEventCallbacks>() as raw::jint
            )
        })
        .map_err(|e| format!("cannot set JVMTI callbacks: {e}"))
    }

    /// Starts `body` on a new JVM daemon thread (JVMTI RunAgentThread), so
    /// it may call JVMTI and never keeps the JVM from exiting.
    pub fn start_agent_thread(
        self,
        jni: Jni<'_>,
        name: &str,
        body: ThreadBody,
    ) -> Result<(), String> {
        let thread = jni.new_thread_object(name)?;
        let arg = Box::into_raw(Box::new(body)) as *mut c_void;
        // SAFETY: `thread` is a fresh, unstarted java.lang.Thread; `arg`
        // is a boxed body that agent_thread_main takes back exactly once.
        let started = check(unsafe {
            jvmti_call!(
                self.0,
                RunAgentThread,
                thread.get().raw() as _,
                Some(agent_thread_main),
                arg,
                raw::JVMTI_THREAD_NORM_PRIORITY as raw::jint
            )
        });
        if started.is_err() {
            // SAFETY: the thread did not start, so `arg` is still ours.
            drop(unsafe { Box::from_raw(arg as *mut ThreadBody) });
        }
        started.map_err(|e| format!("RunAgentThread failed: {e}"))
    }
}

/// A JNI weak global reference (see [`Jni::new_weak`]). Not `Clone`:
/// deleting it takes it by value.
#[derive(Debug)]
pub struct WeakRef(jni_raw::jweak);

// SAFETY: a weak global ref is valid on any thread until deleted.
unsafe impl Send for WeakRef {}

/// What an agent thread runs.
pub type ThreadBody = Box<dyn for<'a> FnOnce(Jvmti, Jni<'a>) + Send>;

/// A local ref we created on an agent thread and must delete ourselves.
pub struct OwnedLocal<'scope> {
    jni: Jni<'scope>,
    obj: LocalRef<'scope>,
}

impl<'scope> OwnedLocal<'scope> {
    pub fn get(&self) -> LocalRef<'scope> {
        self.obj
    }
}

impl Drop for OwnedLocal<'_> {
    fn drop(&mut self) {
        // SAFETY: a local ref of this thread that nothing else deletes.
        unsafe { ((**self.jni.env).v1_6.DeleteLocalRef)(self.jni.env, self.obj.obj) };
    }
}

/// Field ids to read `ProtectionDomain.codesource.location` (and the
/// URL's protocol and file) without calling Java code: field reads run no
/// bytecode, so they are allowed inside class-load callbacks.
#[derive(Clone, Copy)]
pub struct CodeSourceFields {
    codesource: usize,
    location: usize,
    protocol: usize,
    file: usize,
    /// `Class.getProtectionDomain()`, for agent threads.
    get_protection_domain: usize,
}

/// Where a protection domain says its classes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeLocation {
    /// No code source, or one without a location: bytes from nowhere.
    None,
    /// `protocol:file` of the location URL, e.g. `file:/app/lib/x.jar`,
    /// `jar:file:/app.jar!/BOOT-INF/lib/y.jar!/`.
    Url(String),
}

impl<'scope> Jni<'scope> {
    fn new(env: *mut c_void) -> Option<Jni<'scope>> {
        (!env.is_null()).then_some(Jni {
            env: env as *mut jni_raw::JNIEnv,
            _scope: PhantomData,
        })
    }

    fn adopt_local(self, obj: *mut c_void) -> Option<OwnedLocal<'scope>> {
        LocalRef::new(obj).map(|obj| OwnedLocal { jni: self, obj })
    }

    /// Clears a pending exception so the JVM does not see one we caused.
    fn clear_exception(self) -> bool {
        // SAFETY: valid env of the current thread.
        unsafe {
            let table = &(**self.env).v1_6;
            if (table.ExceptionCheck)(self.env) {
                (table.ExceptionClear)(self.env);
                return true;
            }
        }
        false
    }

    fn find_class(self, name: &CStr) -> Result<OwnedLocal<'scope>, String> {
        // SAFETY: NUL-terminated class name; valid env.
        let class = unsafe { ((**self.env).v1_6.FindClass)(self.env, name.as_ptr()) };
        self.clear_exception();
        self.adopt_local(class as *mut c_void)
            .ok_or_else(|| format!("class {name:?} not found"))
    }

    fn field_id(self, class: &OwnedLocal<'_>, name: &CStr, sig: &CStr) -> Result<usize, String> {
        // SAFETY: live class ref, NUL-terminated strings.
        let id = unsafe {
            ((**self.env).v1_6.GetFieldID)(self.env, class.obj.obj, name.as_ptr(), sig.as_ptr())
        };
        self.clear_exception();
        if id.is_null() {
            Err(format!("field {name:?} not found"))
        } else {
            Ok(id as usize)
        }
    }

    pub fn code_source_fields(self) -> Result<CodeSourceFields, String> {
        let pd = self.find_class(c"java/security/ProtectionDomain")?;
        let cs = self.find_class(c"java/security/CodeSource")?;
        let url = self.find_class(c"java/net/URL")?;
        let class = self.find_class(c"java/lang/Class")?;
        // SAFETY: live class ref, NUL-terminated strings.
        let get_protection_domain = unsafe {
            ((**self.env).v1_6.GetMethodID)(
                self.env,
                class.obj.obj,
                c"getProtectionDomain".as_ptr(),
                c"()Ljava/security/ProtectionDomain;".as_ptr(),
            )
        };
        self.clear_exception();
        if get_protection_domain.is_null() {
            return Err("Class.getProtectionDomain not found".into());
        }
        Ok(CodeSourceFields {
            get_protection_domain: get_protection_domain as usize,
            codesource: self.field_id(&pd, c"codesource", c"Ljava/security/CodeSource;")?,
            location: self.field_id(&cs, c"location", c"Ljava/net/URL;")?,
            protocol: self.field_id(&url, c"protocol", c"Ljava/lang/String;")?,
            file: self.field_id(&url, c"file", c"Ljava/lang/String;")?,
        })
    }

    /// The code location of a protection domain (a few field reads).
    pub fn code_location(self, domain: LocalRef<'_>, fields: CodeSourceFields) -> CodeLocation {
        let Some(code_source) = self.object_field(domain, fields.codesource) else {
            return CodeLocation::None;
        };
        let Some(url) = self.object_field(code_source.get(), fields.location) else {
            return CodeLocation::None;
        };
        let text = |field| {
            self.object_field(url.get(), field)
                .and_then(|s| self.string(s.get()))
                .unwrap_or_default()
        };
        CodeLocation::Url(format!("{}:{}", text(fields.protocol), text(fields.file)))
    }

    /// `class.getProtectionDomain()`: runs Java code, so only on agent
    /// threads (the writer), never in a class-load callback.
    pub fn protection_domain(
        self,
        class: LocalRef<'_>,
        fields: CodeSourceFields,
    ) -> Option<OwnedLocal<'scope>> {
        // SAFETY: `class` is a live java.lang.Class ref and the method id is
        // Class.getProtectionDomain()Ljava/security/ProtectionDomain; (no
        // arguments); an exception is cleared, not left pending.
        let domain = unsafe {
            ((**self.env).v1_6.CallObjectMethodA)(
                self.env,
                class.obj,
                fields.get_protection_domain as jni_raw::jmethodID,
                ptr::null(),
            )
        };
        if self.clear_exception() {
            return None;
        }
        self.adopt_local(domain as *mut c_void)
    }

    fn object_field(self, object: LocalRef<'_>, field: usize) -> Option<OwnedLocal<'scope>> {
        // SAFETY: `object` is a live ref of the class that declares `field`
        // (the caller pairs them: ProtectionDomain.codesource and so on).
        let value = unsafe {
            ((**self.env).v1_6.GetObjectField)(self.env, object.obj, field as jni_raw::jfieldID)
        };
        self.adopt_local(value as *mut c_void)
    }

    /// A java.lang.String's text (modified UTF-8 read lossily).
    fn string(self, string: LocalRef<'_>) -> Option<String> {
        // SAFETY: `string` is a live java.lang.String ref; the buffer has
        // room for the UTF-length bytes JNI writes (plus NUL).
        unsafe {
            let table = &(**self.env).v1_6;
            let s = string.obj as jni_raw::jstring;
            let chars = (table.GetStringLength)(self.env, s);
            let bytes = (table.GetStringUTFLength)(self.env, s);
            if chars < 0 || bytes < 0 {
                return None;
            }
            let mut buf = vec![0u8; bytes as usize + 1];
            (table.GetStringUTFRegion)(self.env, s, 0, chars, buf.as_mut_ptr() as *mut c_char);
            if self.clear_exception() {
                return None;
            }
            buf.truncate(bytes as usize);
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
    }

    /// `System.getProperty(name)`; only where calling Java is allowed
    /// (VMInit, agent threads), never in class-load callbacks.
    pub fn java_system_property(self, name: &str) -> Option<String> {
        let system = self.find_class(c"java/lang/System").ok()?;
        let cname = CString::new(name).ok()?;
        // SAFETY: valid env, live class ref, NUL-terminated strings; the
        // returned jstring is a local ref we release.
        unsafe {
            let table = &(**self.env).v1_6;
            let get = (table.GetStaticMethodID)(
                self.env,
                system.obj.obj,
                c"getProperty".as_ptr(),
                c"(Ljava/lang/String;)Ljava/lang/String;".as_ptr(),
            );
            if get.is_null() {
                self.clear_exception();
                return None;
            }
            let key =
                self.adopt_local((table.NewStringUTF)(self.env, cname.as_ptr()) as *mut c_void)?;
            let args = [jni_raw::jvalue { l: key.obj.obj }];
            let value =
                (table.CallStaticObjectMethodA)(self.env, system.obj.obj, get, args.as_ptr());
            if self.clear_exception() {
                return None;
            }
            let value = self.adopt_local(value as *mut c_void)?;
            let chars = (table.GetStringUTFChars)(
                self.env,
                value.obj.obj as jni_raw::jstring,
                ptr::null_mut(),
            );
            if chars.is_null() {
                return None;
            }
            let text = CStr::from_ptr(chars).to_string_lossy().into_owned();
            (table.ReleaseStringUTFChars)(self.env, value.obj.obj as jni_raw::jstring, chars);
            Some(text)
        }
    }

    /// Runs a HotSpot diagnostic command (what `jcmd` runs) on this
    /// thread, handing its output to `on_text` in pieces of at most
    /// `DCMD_PIECE` characters (the output of a large listing is never
    /// copied whole into Rust). Only where calling Java is allowed (agent
    /// threads).
    pub fn diagnostic_command(
        self,
        commands: DiagnosticCommands,
        command: &str,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        let cmd = CString::new(command).map_err(|e| e.to_string())?;
        // SAFETY: valid env of this (attached, Java-calling) thread; the
        // function is the JDK's own native for
        // DiagnosticCommandImpl.executeDiagnosticCommand, whose receiver it
        // ignores; every returned local ref is released.
        unsafe {
            let table = &(**self.env).v1_6;
            let jcmd = self
                .adopt_local((table.NewStringUTF)(self.env, cmd.as_ptr()) as *mut c_void)
                .ok_or("NewStringUTF failed")?;
            let out =
                (commands.execute)(self.env, ptr::null_mut(), jcmd.obj.obj as jni_raw::jstring);
            if self.clear_exception() {
                return Err(format!("{command} threw"));
            }
            let out = self
                .adopt_local(out as *mut c_void)
                .ok_or_else(|| format!("{command} returned nothing"))?;
            let s = out.obj.obj as jni_raw::jstring;
            let length = (table.GetStringLength)(self.env, s).max(0);
            let mut units = vec![0u16; DCMD_PIECE.min(length as usize)];
            let mut text = String::new();
            let mut start = 0;
            while start < length {
                let n = (length - start).min(DCMD_PIECE as i32);
                (table.GetStringRegion)(self.env, s, start, n, units.as_mut_ptr());
                if self.clear_exception() {
                    return Err(format!("reading the output of {command} failed"));
                }
                text.clear();
                text.extend(
                    char::decode_utf16(units[..n as usize].iter().copied())
                        .map(|c| c.unwrap_or('\u{fffd}')),
                );
                on_text(&text);
                start += n;
            }
            Ok(())
        }
    }

    /// Bytes the Java heap can still grow by (`Runtime.maxMemory() -
    /// totalMemory() + freeMemory()`): what a diagnostic command's output
    /// string may take without pushing the application towards a GC or an
    /// OutOfMemoryError.
    pub fn heap_headroom(self) -> Option<u64> {
        let runtime = self.find_class(c"java/lang/Runtime").ok()?;
        // SAFETY: valid env, live class ref, method names and signatures of
        // java.lang.Runtime that exist on every JDK; local refs released.
        unsafe {
            let table = &(**self.env).v1_6;
            let class = runtime.obj.obj;
            let get = (table.GetStaticMethodID)(
                self.env,
                class,
                c"getRuntime".as_ptr(),
                c"()Ljava/lang/Runtime;".as_ptr(),
            );
            if get.is_null() {
                self.clear_exception();
                return None;
            }
            let instance = (table.CallStaticObjectMethodA)(self.env, class, get, ptr::null());
            if self.clear_exception() {
                return None;
            }
            let instance = self.adopt_local(instance as *mut c_void)?;
            let figure = |name: &CStr| -> Option<i64> {
                let id = (table.GetMethodID)(self.env, class, name.as_ptr(), c"()J".as_ptr());
                if id.is_null() {
                    self.clear_exception();
                    return None;
                }
                let value = (table.CallLongMethodA)(self.env, instance.obj.obj, id, ptr::null());
                (!self.clear_exception()).then_some(value)
            };
            let max = figure(c"maxMemory")?;
            let total = figure(c"totalMemory")?;
            let free = figure(c"freeMemory")?;
            u64::try_from(max - total + free).ok()
        }
    }

    /// A weak global reference to `object`: it never keeps the object
    /// alive and, once the object is collected, compares equal to no live
    /// object. Deleted with [`Jni::delete_weak`] (any thread may).
    pub fn new_weak(self, object: LocalRef<'_>) -> Option<WeakRef> {
        // SAFETY: live object ref, valid env of this thread.
        let weak = unsafe { ((**self.env).v1_6.NewWeakGlobalRef)(self.env, object.obj) };
        (!weak.is_null()).then_some(WeakRef(weak))
    }

    /// Whether `weak` still refers to `object` (IsSameObject: no lock, no
    /// table lookup).
    pub fn is_same(self, weak: &WeakRef, object: LocalRef<'_>) -> bool {
        // SAFETY: a weak ref not yet deleted (WeakRef is deleted only by
        // value) and a live local ref.
        unsafe { ((**self.env).v1_6.IsSameObject)(self.env, weak.0, object.obj) }
    }

    pub fn delete_weak(self, weak: WeakRef) {
        // SAFETY: a weak ref we created and, taken by value, delete once.
        unsafe { ((**self.env).v1_6.DeleteWeakGlobalRef)(self.env, weak.0) };
    }

    /// `GetObjectClass(object)` as a local ref we delete ourselves.
    pub fn object_class(self, object: LocalRef<'_>) -> Option<OwnedLocal<'scope>> {
        // SAFETY: live object ref.
        let class = unsafe { ((**self.env).v1_6.GetObjectClass)(self.env, object.obj) };
        self.adopt_local(class as *mut c_void)
    }

    fn new_thread_object(self, name: &str) -> Result<OwnedLocal<'scope>, String> {
        let thread_class = self.find_class(c"java/lang/Thread")?;
        let cname = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: valid env, live class ref, NUL-terminated strings; the
        // constructor Thread(String) exists on every JDK.
        unsafe {
            let table = &(**self.env).v1_6;
            let ctor = (table.GetMethodID)(
                self.env,
                thread_class.obj.obj,
                c"<init>".as_ptr(),
                c"(Ljava/lang/String;)V".as_ptr(),
            );
            if ctor.is_null() {
                self.clear_exception();
                return Err("Thread(String) constructor not found".into());
            }
            let jname = self
                .adopt_local((table.NewStringUTF)(self.env, cname.as_ptr()) as *mut c_void)
                .ok_or("NewStringUTF failed")?;
            let args = [jni_raw::jvalue { l: jname.obj.obj }];
            let thread = (table.NewObjectA)(self.env, thread_class.obj.obj, ctor, args.as_ptr());
            if self.clear_exception() {
                return Err("creating the writer thread object threw".into());
            }
            self.adopt_local(thread as *mut c_void)
                .ok_or_else(|| "NewObject returned null".into())
        }
    }
}

/// UTF-16 units read from a diagnostic command's output at a time.
const DCMD_PIECE: usize = 64 * 1024;

type ExecuteDcmd = unsafe extern "system" fn(
    *mut jni_raw::JNIEnv,
    jni_raw::jobject,
    jni_raw::jstring,
) -> jni_raw::jstring;
type JniOnLoad = unsafe extern "system" fn(*mut jni_raw::JavaVM, *mut c_void) -> jni_raw::jint;

/// The JVM's diagnostic commands, reached through the JDK's own
/// management library (libmanagement_ext, which every JDK since 9 ships
/// and which is built against its JVM's private management interface, so
/// no layout of that interface is assumed here).
#[derive(Clone, Copy)]
pub struct DiagnosticCommands {
    execute: ExecuteDcmd,
}

impl DiagnosticCommands {
    /// Loads `libmanagement_ext.so` from the JVM's own library directory
    /// (`sun.boot.library.path`) and initialises it as the JVM would.
    pub fn load(jni: Jni<'_>, library_dir: &std::path::Path) -> Result<DiagnosticCommands, String> {
        use std::os::unix::ffi::OsStrExt;
        let path = library_dir.join("libmanagement_ext.so");
        let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: dlopen/dlsym with NUL-terminated strings; the library is
        // the JVM's own (the JVM loads the same file for
        // java.lang.management), never unloaded; JNI_OnLoad gets this
        // JVM and a valid env is current on this thread, as it expects;
        // the symbol's type is the JNI native's.
        unsafe {
            let handle = libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            if handle.is_null() {
                return Err(format!("cannot load {}", path.display()));
            }
            let on_load = libc::dlsym(handle, c"JNI_OnLoad".as_ptr());
            let execute = libc::dlsym(
                handle,
                c"Java_com_sun_management_internal_DiagnosticCommandImpl_executeDiagnosticCommand"
                    .as_ptr(),
            );
            if on_load.is_null() || execute.is_null() {
                return Err(format!(
                    "{} has no diagnostic-command entry",
                    path.display()
                ));
            }
            let mut vm: *mut jni_raw::JavaVM = ptr::null_mut();
            if ((**jni.env).v1_6.GetJavaVM)(jni.env, &mut vm) != 0 || vm.is_null() {
                return Err("GetJavaVM failed".into());
            }
            let on_load: JniOnLoad = std::mem::transmute::<*mut c_void, JniOnLoad>(on_load);
            let version = on_load(vm, ptr::null_mut());
            if jni.clear_exception() || version < 0 {
                return Err("the JVM's management library refused to start".into());
            }
            Ok(DiagnosticCommands {
                execute: std::mem::transmute::<*mut c_void, ExecuteDcmd>(execute),
            })
        }
    }
}

// ---------------------------------------------------------------------------
// The JVM's calls into the agent
// ---------------------------------------------------------------------------

/// When the agent starts: at JVM start (`-agentpath`, before VMInit) or
/// in a running JVM (dynamic attach, live phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    OnLoad,
    Live,
}

/// The JavaVM the agent was loaded into.
#[derive(Clone, Copy)]
pub struct Vm(*mut jni_raw::JavaVM);

impl Vm {
    /// The JVMTI environment (version 1.2, as every JDK since 8 offers).
    pub fn jvmti(self) -> Option<Jvmti> {
        let mut env: *mut c_void = ptr::null_mut();
        // SAFETY: `self.0` is the JavaVM the JVM passed to the agent;
        // GetEnv writes a jvmtiEnv* on success.
        let rc = unsafe { ((**self.0).v1_4.GetEnv)(self.0, &mut env, raw::JVMTI_VERSION_1_2) };
        (rc == JNI_OK && !env.is_null()).then_some(Jvmti(env as *mut raw::jvmtiEnv))
    }

    /// The JNI environment of the current thread (a Java thread: the
    /// Attach Listener when attaching).
    pub fn current_jni(self) -> Option<Jni<'static>> {
        let mut env: *mut c_void = ptr::null_mut();
        // SAFETY: as above; GetEnv writes a JNIEnv* on success.
        let rc = unsafe { ((**self.0).v1_4.GetEnv)(self.0, &mut env, jni_raw::JNI_VERSION_1_6) };
        if rc == JNI_OK {
            Jni::new(env)
        } else {
            None
        }
    }
}

/// The agent's start path, called by the generated `Agent_OnLoad` /
/// `Agent_OnAttach` (see [`export_agent!`]) inside a panic guard.
pub trait AgentStart {
    /// Starts (or, for a later attach, commands) the agent. An error is
    /// printed as one line and the load fails, which makes the JVM unload
    /// the library: return it before installing anything.
    fn load(vm: Vm, options: &str, phase: Phase) -> Result<(), String>;
    /// Whether this copy of the library has an installed agent.
    fn installed() -> bool;
    /// The process exits without VMDeath (`-XX:+ExitOnOutOfMemoryError`,
    /// a native `exit()`).
    fn process_exit();
}

/// What the ClassFileLoadHook hands over, borrowed for the callback.
pub struct HookedClass<'a> {
    pub name: Option<&'a str>,
    pub bytes: &'a [u8],
    /// Never the bootstrap loader: those classes are skipped here.
    pub loader: Option<LocalRef<'a>>,
    pub protection_domain: Option<LocalRef<'a>>,
}

/// The JVMTI events the agent handles, as safe calls. Installed once with
/// [`Jvmti::install`]; each call runs inside a panic guard.
pub trait AgentEvents: Sync {
    fn vm_init(&self, jvmti: Jvmti, jni: Jni<'_>);
    fn vm_death(&self);
    fn class_file(&self, jvmti: Jvmti, jni: Jni<'_>, class: HookedClass<'_>);
    fn class_load(&self, jvmti: Jvmti, jni: Jni<'_>, class: LocalRef<'_>);
    /// Inside a GC pause: no JVMTI or JNI allowed.
    fn gc(&self, start: bool);
    /// Inside or right after a GC: no JVMTI or JNI allowed.
    fn object_free(&self, tag: i64);
    /// `flags` as JVMTI names them: `oom_error`, `java_heap`, `threads`.
    fn resource_exhausted(&self, jvmti: Jvmti, description: String, flags: Vec<&'static str>);
    /// A panic was caught in `what`: stop capturing, keep the JVM.
    fn internal_error(&self, what: &str, message: &str);
}

static EVENTS: OnceLock<&'static dyn AgentEvents> = OnceLock::new();

/// Generates the JVMTI entry points for `$agent` (an [`AgentStart`]) at
/// the crate root: `Agent_OnLoad`, `Agent_OnAttach`, `Agent_OnUnload`, and
/// the marker other copies of this library look for. Their bodies are
/// calls into this module, where the unsafe work is done and checked.
#[macro_export]
macro_rules! export_agent {
    ($agent:ty) => {
        /// JVMTI: the agent is loaded at JVM start (`-agentpath`).
        ///
        /// # Safety
        /// Called by the JVM with its JavaVM and option string.
        #[no_mangle]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn Agent_OnLoad(
            vm: *mut $crate::ffi::RawJavaVm,
            options: *const ::std::ffi::c_char,
            _reserved: *mut ::std::ffi::c_void,
        ) -> i32 {
            // SAFETY: the JVM's own arguments, passed on unchanged.
            unsafe { $crate::ffi::on_load::<$agent>(vm, options, $crate::ffi::Phase::OnLoad) }
        }

        /// JVMTI: the agent is loaded into a running JVM (dynamic attach).
        ///
        /// # Safety
        /// Called by the JVM's Attach Listener with its JavaVM and options.
        #[no_mangle]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn Agent_OnAttach(
            vm: *mut $crate::ffi::RawJavaVm,
            options: *const ::std::ffi::c_char,
            _reserved: *mut ::std::ffi::c_void,
        ) -> i32 {
            // SAFETY: the JVM's own arguments, passed on unchanged.
            unsafe { $crate::ffi::on_load::<$agent>(vm, options, $crate::ffi::Phase::Live) }
        }

        /// JVMTI: the JVM exits (after VMDeath); nothing left to do.
        ///
        /// # Safety
        /// Called by the JVM at exit.
        #[no_mangle]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn Agent_OnUnload(_vm: *mut $crate::ffi::RawJavaVm) {}

        /// Lets another copy of this library find an installed agent (see
        /// `ffi::installed_copy`); the name versions the handshake.
        #[no_mangle]
        #[allow(unsafe_code)]
        pub extern "C" fn metascope_agent_installed_v1() -> i32 {
            i32::from(<$agent as $crate::ffi::AgentStart>::installed())
        }
    };
}

/// The JavaVM type of the generated entry points.
pub type RawJavaVm = jni_raw::JavaVM;

thread_local! {
    /// Where the last panic on this thread happened, for the one-line message.
    static PANIC_LOCATION: std::cell::Cell<Option<(&'static str, u32)>> = const { std::cell::Cell::new(None) };
    static IN_AGENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps panics inside the agent to the single line `guarded` prints;
/// panics elsewhere in the process still reach the previous hook.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_AGENT.with(|a| a.get()) {
                let location = info.location().map(|l| (l.file(), l.line()));
                PANIC_LOCATION.with(|p| {
                    p.set(location.and_then(|(f, l)| static_file_name(f).map(|f| (f, l))))
                });
            } else {
                previous(info);
            }
        }));
    });
}

/// A panic location's file, as a `&'static str` without allocating: the
/// last path component, found in this library's own source list.
fn static_file_name(file: &str) -> Option<&'static str> {
    const FILES: &[&str] = &[
        "agent.rs",
        "capture.rs",
        "census.rs",
        "classfile.rs",
        "classify.rs",
        "clock.rs",
        "dump.rs",
        "ffi.rs",
        "files.rs",
        "frames.rs",
        "live.rs",
        "loaders.rs",
        "messages.rs",
        "options.rs",
        "output.rs",
        "session.rs",
        "writer.rs",
        "lib.rs",
    ];
    FILES.iter().copied().find(|f| file.ends_with(f))
}

/// Runs `body`, turning a panic into `on_panic(message)` (never an abort).
/// The error path itself runs under a second `catch_unwind`: a panic
/// escaping an `extern "C"` function would abort the JVM.
fn guarded<R>(fallback: R, on_panic: impl FnOnce(&str), body: impl FnOnce() -> R) -> R {
    let was_inside = IN_AGENT.with(|a| a.replace(true));
    let result = catch_unwind(AssertUnwindSafe(body));
    let result = match result {
        Ok(r) => r,
        Err(payload) => {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let at = PANIC_LOCATION
                    .with(|p| p.take())
                    .map(|(file, line)| format!(" at {file}:{line}"))
                    .unwrap_or_default();
                on_panic(&format!("{msg}{at}"));
            }));
            fallback
        }
    };
    IN_AGENT.with(|a| a.set(was_inside));
    result
}

/// Runs an event handler under the guard; a panic becomes the handler's
/// `internal_error`.
fn dispatch(what: &str, body: impl FnOnce(&'static dyn AgentEvents)) {
    let Some(&events) = EVENTS.get() else {
        return;
    };
    guarded(
        (),
        |message| events.internal_error(what, message),
        || body(events),
    )
}

/// The body of the generated `Agent_OnLoad` / `Agent_OnAttach`: the one
/// start path.
///
/// # Safety
/// `vm` and `options` must be what the JVM passed to the entry point.
pub unsafe fn on_load<A: AgentStart>(
    vm: *mut jni_raw::JavaVM,
    options: *const c_char,
    phase: Phase,
) -> i32 {
    install_panic_hook();
    messages::init();
    let failed =
        |message: &str| messages::say(&format!("internal error in agent start: {message}"));
    guarded(JNI_ERR, failed, || {
        if !A::installed() {
            if let Some(installed) = installed_copy() {
                if phase == Phase::OnLoad {
                    messages::say("another copy of the agent library is already loaded in this JVM; load only one");
                    return JNI_ERR;
                }
                // Another copy of this library records in this JVM (it was
                // loaded from another path): hand the command to it, so
                // `attach --stop` works through any copy.
                // SAFETY: the other copy's Agent_OnAttach, with the
                // arguments the JVM gave us.
                return unsafe { installed(vm, options, ptr::null_mut()) };
            }
        }
        let text = if options.is_null() {
            String::new()
        } else {
            // SAFETY: the JVM passes a NUL-terminated option string.
            unsafe { CStr::from_ptr(options) }
                .to_string_lossy()
                .into_owned()
        };
        match A::load(Vm(vm), &text, phase) {
            Ok(()) => {
                static EXIT_HOOK: std::sync::Once = std::sync::Once::new();
                EXIT_HOOK.call_once(|| {
                    // Registered only once the library is sure to stay
                    // loaded (a failed load unloads it, which would leave a
                    // dangling handler).
                    // SAFETY: a plain extern "C" fn of this library, never
                    // unloaded after a good start.
                    unsafe { libc::atexit(on_process_exit::<A>) };
                });
                JNI_OK
            }
            Err(message) => {
                messages::say(&message);
                JNI_ERR
            }
        }
    })
}

type OnAttach = unsafe extern "C" fn(*mut jni_raw::JavaVM, *const c_char, *mut c_void) -> i32;
type Marker = extern "C" fn() -> i32;

/// Other copies of this library in the process (objects exporting our
/// marker, other than us), each held by a RTLD_NOLOAD handle that is
/// closed when the item is dropped.
fn loaded_copies() -> impl Iterator<Item = LoadedCopy> {
    unsafe extern "C" fn collect(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        names: *mut c_void,
    ) -> i32 {
        // SAFETY: `names` is the Vec passed below; `info` and its name
        // are valid during the callback.
        unsafe {
            let names = &mut *(names as *mut Vec<CString>);
            let name = (*info).dlpi_name;
            if !name.is_null() && *name != 0 {
                names.push(CStr::from_ptr(name).to_owned());
            }
        }
        0
    }
    let mut names: Vec<CString> = Vec::new();
    // SAFETY: the callback only reads the entries and appends to `names`.
    unsafe { libc::dl_iterate_phdr(Some(collect), &mut names as *mut _ as *mut c_void) };
    let own = own_marker();
    names.into_iter().filter_map(move |name| {
        // SAFETY: RTLD_NOLOAD never loads anything new: it returns a handle
        // only for an object already in the process (and takes a reference
        // that LoadedCopy gives back with dlclose).
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
        if handle.is_null() {
            return None;
        }
        let copy = LoadedCopy { handle };
        // SAFETY: a symbol lookup in a live handle.
        let marker = unsafe { libc::dlsym(handle, c"metascope_agent_installed_v1".as_ptr()) };
        (!marker.is_null() && !std::ptr::eq(marker, own)).then_some(copy)
    })
}

/// This library's own marker (exported by the crate root), to tell our
/// own file apart from other copies.
fn own_marker() -> *const c_void {
    let mut info = zeroed_dl_info();
    let here = own_library_path as *const c_void;
    // SAFETY: dladdr fills `info` for an address inside this library;
    // dlopen(RTLD_NOLOAD) of our own file only takes a reference (given
    // back at once) and dlsym looks a name up in it.
    unsafe {
        if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
            return ptr::null();
        }
        let handle = libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return ptr::null();
        }
        let marker = libc::dlsym(handle, c"metascope_agent_installed_v1".as_ptr());
        libc::dlclose(handle);
        marker
    }
}

fn zeroed_dl_info() -> libc::Dl_info {
    // SAFETY: Dl_info is a plain C struct of pointers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

struct LoadedCopy {
    handle: *mut c_void,
}

impl LoadedCopy {
    /// The copy's Agent_OnAttach if its agent is installed.
    fn installed_on_attach(&self) -> Option<OnAttach> {
        // SAFETY: the marker and Agent_OnAttach are this library's own
        // exports (the other copy is the same code), with the signatures
        // declared here.
        unsafe {
            let marker = libc::dlsym(self.handle, c"metascope_agent_installed_v1".as_ptr());
            let on_attach = libc::dlsym(self.handle, c"Agent_OnAttach".as_ptr());
            if marker.is_null() || on_attach.is_null() {
                return None;
            }
            let marker: Marker = std::mem::transmute::<*mut c_void, Marker>(marker);
            (marker() == 1).then(|| std::mem::transmute::<*mut c_void, OnAttach>(on_attach))
        }
    }
}

impl Drop for LoadedCopy {
    fn drop(&mut self) {
        // SAFETY: a handle from dlopen(RTLD_NOLOAD); the copy stays loaded
        // (the JVM holds its own handle).
        unsafe { libc::dlclose(self.handle) };
    }
}

/// The `Agent_OnAttach` of another copy of this library whose agent is
/// installed in this process, if any.
fn installed_copy() -> Option<OnAttach> {
    loaded_copies().find_map(|copy| copy.installed_on_attach())
}

/// The path this library was loaded from (dladdr on one of its functions).
pub fn own_library_path() -> Option<std::path::PathBuf> {
    let mut info = zeroed_dl_info();
    let here = own_library_path as *const c_void;
    // SAFETY: dladdr fills `info` for an address inside this library and
    // its strings live as long as the library.
    unsafe {
        if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        let name = CStr::from_ptr(info.dli_fname).to_str().ok()?;
        std::fs::canonicalize(name).ok()
    }
}

extern "C" fn on_process_exit<A: AgentStart>() {
    guarded(
        (),
        |m| messages::say(&format!("internal error in exit handler: {m}")),
        A::process_exit,
    )
}

unsafe extern "C" fn on_vm_init(
    _env: *mut raw::jvmtiEnv,
    jni: *mut raw::JNIEnv,
    _thread: raw::jthread,
) {
    dispatch("VMInit", |events| {
        if let Some(jni) = Jni::new(jni as *mut c_void) {
            // The env is the one the agent installed with.
            events.vm_init(Jvmti(_env), jni);
        }
    })
}

unsafe extern "C" fn on_vm_death(_env: *mut raw::jvmtiEnv, _jni: *mut raw::JNIEnv) {
    dispatch("VMDeath", |events| events.vm_death())
}

unsafe extern "C" fn on_class_load(
    env: *mut raw::jvmtiEnv,
    jni: *mut raw::JNIEnv,
    _thread: raw::jthread,
    klass: raw::jclass,
) {
    dispatch("ClassLoad", |events| {
        if let (Some(jni), Some(class)) = (
            Jni::new(jni as *mut c_void),
            LocalRef::new(klass as *mut c_void),
        ) {
            events.class_load(Jvmti(env), jni, class);
        }
    })
}

// GC and ObjectFree callbacks may run inside a GC pause, where JVMTI allows
// only raw monitors and memory functions: the handlers call neither JVMTI
// nor JNI, they only queue a small message.
unsafe extern "C" fn on_gc_start(_env: *mut raw::jvmtiEnv) {
    dispatch("GarbageCollectionStart", |events| events.gc(true))
}

unsafe extern "C" fn on_gc_finish(_env: *mut raw::jvmtiEnv) {
    dispatch("GarbageCollectionFinish", |events| events.gc(false))
}

unsafe extern "C" fn on_object_free(_env: *mut raw::jvmtiEnv, tag: raw::jlong) {
    dispatch("ObjectFree", |events| events.object_free(tag))
}

unsafe extern "C" fn on_resource_exhausted(
    env: *mut raw::jvmtiEnv,
    _jni: *mut raw::JNIEnv,
    flags: raw::jint,
    _reserved: *const c_void,
    description: *const c_char,
) {
    dispatch("ResourceExhausted", |events| {
        let description = if description.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated description from the JVM.
            unsafe { CStr::from_ptr(description) }
                .to_string_lossy()
                .into_owned()
        };
        let names = [
            (raw::JVMTI_RESOURCE_EXHAUSTED_OOM_ERROR, "oom_error"),
            (raw::JVMTI_RESOURCE_EXHAUSTED_JAVA_HEAP, "java_heap"),
            (raw::JVMTI_RESOURCE_EXHAUSTED_THREADS, "threads"),
        ]
        .into_iter()
        .filter(|(bit, _)| flags as u32 & bit != 0)
        .map(|(_, name)| name)
        .collect();
        events.resource_exhausted(Jvmti(env), description, names);
    })
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn on_class_file_load_hook(
    env: *mut raw::jvmtiEnv,
    jni: *mut raw::JNIEnv,
    class_being_redefined: raw::jclass,
    loader: raw::jobject,
    name: *const c_char,
    protection_domain: raw::jobject,
    class_data_len: raw::jint,
    class_data: *const c_uchar,
    _new_class_data_len: *mut raw::jint,
    _new_class_data: *mut *mut c_uchar,
) {
    // Redefinitions (another agent's retransform) are not definitions.
    if !class_being_redefined.is_null() {
        return;
    }
    dispatch("ClassFileLoadHook", |events| {
        let Some(jni) = Jni::new(jni as *mut c_void) else {
            return;
        };
        let name = if name.is_null() {
            None
        } else {
            // SAFETY: a NUL-terminated internal class name from the JVM.
            unsafe { CStr::from_ptr(name) }.to_str().ok()
        };
        let bytes: &[u8] = if class_data.is_null() || class_data_len <= 0 {
            &[]
        } else {
            // SAFETY: the JVM passes `class_data_len` readable bytes that
            // outlive this callback.
            unsafe { std::slice::from_raw_parts(class_data, class_data_len as usize) }
        };
        events.class_file(
            Jvmti(env),
            jni,
            HookedClass {
                name,
                bytes,
                loader: LocalRef::new(loader as *mut c_void),
                protection_domain: LocalRef::new(protection_domain as *mut c_void),
            },
        );
    })
}

unsafe extern "C" fn agent_thread_main(
    env: *mut raw::jvmtiEnv,
    jni: *mut raw::JNIEnv,
    arg: *mut c_void,
) {
    // SAFETY: `arg` is the boxed body start_agent_thread handed over.
    let body = unsafe { Box::from_raw(arg as *mut ThreadBody) };
    let failed = |message: &str| match EVENTS.get() {
        Some(events) => events.internal_error("writer thread", message),
        None => messages::say(&format!("internal error in writer thread: {message}")),
    };
    guarded((), failed, move || {
        if let Some(jni) = Jni::new(jni as *mut c_void) {
            body(Jvmti(env), jni);
        }
    })
}
