//! Each thread's memory of the protection domain and the class loader it
//! met last, so that the next class from the same jar or the same loader
//! is recognised with `IsSameObject` instead of `GetTag`.
//!
//! GetTag takes the JVM's tag-map lock and searches its table: about
//! 200 ns a call on JDK 17, the largest JVMTI cost an ordinary class paid
//! in the hook. Classes come in runs from one jar (start-up) or one
//! loader (a generator's), so one remembered object per role hits almost
//! always.
//!
//! The memory is a JNI weak global reference: it never keeps the domain
//! or loader alive, and once the object is collected it matches nothing,
//! so a new object at the same address is never mistaken for it. The tags
//! it caches never change once set (see `capture` and `loaders`), so a
//! remembered tag is never stale. A thread holds at most one reference per
//! role; one that exits leaves its references to the next thread that
//! remembers something (a dead thread has no JNI environment to delete
//! them with), so the count stays bounded by the threads alive since.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::ffi::{Jni, LocalRef, WeakRef};

/// What a remembered object was to its class.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    ProtectionDomain,
    Loader,
    /// The class of a loader met for the first time (a generator that
    /// makes a loader per class makes them all of one class).
    LoaderClass,
}

#[derive(Default)]
struct Remembered {
    domain: Option<(WeakRef, i64)>,
    loader: Option<(WeakRef, i64)>,
    loader_class: Option<(WeakRef, i64)>,
}

impl Remembered {
    fn slot(&self, role: Role) -> &Option<(WeakRef, i64)> {
        match role {
            Role::ProtectionDomain => &self.domain,
            Role::Loader => &self.loader,
            Role::LoaderClass => &self.loader_class,
        }
    }

    fn slot_mut(&mut self, role: Role) -> &mut Option<(WeakRef, i64)> {
        match role {
            Role::ProtectionDomain => &mut self.domain,
            Role::Loader => &mut self.loader,
            Role::LoaderClass => &mut self.loader_class,
        }
    }
}

impl Drop for Remembered {
    fn drop(&mut self) {
        let left: Vec<WeakRef> = [
            self.domain.take(),
            self.loader.take(),
            self.loader_class.take(),
        ]
        .into_iter()
        .flatten()
        .map(|(weak, _)| weak)
        .collect();
        if !left.is_empty() {
            LEFT_BY_EXITED_THREADS.lock().extend(left);
            THREADS_LEFT_REFERENCES.store(true, Ordering::Release);
        }
    }
}

thread_local! {
    static REMEMBERED: RefCell<Remembered> = RefCell::new(Remembered::default());
}

/// References of threads that have exited, deleted by the next thread
/// that remembers something; the flag spares the others the lock.
static LEFT_BY_EXITED_THREADS: Mutex<Vec<WeakRef>> = Mutex::new(Vec::new());
static THREADS_LEFT_REFERENCES: AtomicBool = AtomicBool::new(false);

/// `object`'s tag: from this thread's memory when `object` is the one it
/// met last in `role`, else from `get_tag`. Only an object that already
/// had a tag is remembered: one met for the first time is often the only
/// class of a fresh loader (its own domain and loader), and remembering
/// it would cost a reference made and deleted per class.
pub fn tag<E>(
    role: Role,
    jni: Jni<'_>,
    object: LocalRef<'_>,
    get_tag: impl FnOnce() -> Result<i64, E>,
) -> Result<i64, E> {
    let known = REMEMBERED.try_with(|r| {
        r.borrow()
            .slot(role)
            .as_ref()
            .filter(|(weak, _)| jni.is_same(weak, object))
            .map(|&(_, tag)| tag)
    });
    if let Ok(Some(tag)) = known {
        return Ok(tag);
    }
    let tag = get_tag()?;
    if tag != 0 {
        remember(role, jni, object, tag);
    }
    Ok(tag)
}

fn remember(role: Role, jni: Jni<'_>, object: LocalRef<'_>, tag: i64) {
    // A thread whose memory is already dropped (it is exiting) remembers
    // nothing more: the closure does not run.
    let _ = REMEMBERED.try_with(|r| {
        let weak = jni.new_weak(object)?;
        let old = r.borrow_mut().slot_mut(role).replace((weak, tag))?;
        jni.delete_weak(old.0);
        Some(())
    });
    if THREADS_LEFT_REFERENCES.load(Ordering::Relaxed)
        && THREADS_LEFT_REFERENCES.swap(false, Ordering::Acquire)
    {
        let left = std::mem::take(&mut *LEFT_BY_EXITED_THREADS.lock());
        for weak in left {
            jni.delete_weak(weak);
        }
    }
}
