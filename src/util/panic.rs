//! Containing a panic quietly: [`contained`] runs code whose panic becomes an ordinary error (the
//! PEP 508 backstop), and the hook the binary installs with [`install_hook`] prints nothing for
//! a panic inside it. Other panics, on any thread, are printed as before: the flag is
//! per thread, so a contained panic on one thread silences no other.

use std::{
    cell::Cell,
    panic::{AssertUnwindSafe, PanicHookInfo},
    sync::Once,
};

thread_local! {
    /// How many [`contained`] calls this thread is inside.
    static CONTAINED: Cell<u32> = const { Cell::new(0) };
}

/// Whether the current thread is inside [`contained`].
pub fn in_contained() -> bool {
    CONTAINED.with(Cell::get) > 0
}

/// Runs `f`, returning `None` instead of unwinding when it panics. With the hook of
/// [`install_hook`], such a panic prints nothing.
pub fn contained<R>(f: impl FnOnce() -> R) -> Option<R> {
    /// Leaves the contained section also when `f` unwinds.
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            CONTAINED.with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    CONTAINED.with(|c| c.set(c.get() + 1));
    let leave = Leave;
    let result = std::panic::catch_unwind(AssertUnwindSafe(f)).ok();
    drop(leave);
    result
}

/// `inner`, except for panics inside [`contained`], which print nothing.
pub fn quiet_inside_contained(
    inner: Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>,
) -> Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static> {
    Box::new(move |info| {
        if !in_contained() {
            inner(info);
        }
    })
}

/// Installs (once per process) a panic hook that is the current one except inside
/// [`contained`]. The binary calls it first thing.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(quiet_inside_contained(previous));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static PRINTED: Cell<u32> = const { Cell::new(0) };
    }

    #[test]
    fn a_contained_panic_reaches_no_hook_and_others_still_do() {
        // Counts this thread's panics that the hook passes on (the hook runs on the panicking
        // thread), and passes every panic on to the previous hook, so other tests print as usual.
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(quiet_inside_contained(Box::new(move |info| {
                PRINTED.with(|p| p.set(p.get() + 1));
                previous(info);
            })));
        });
        assert_eq!(contained(|| 7), Some(7));
        assert_eq!(contained(|| -> u32 { panic!("contained") }), None);
        assert_eq!(
            PRINTED.with(Cell::get),
            0,
            "the contained panic was printed"
        );
        assert!(
            !in_contained(),
            "an unwinding panic leaves the contained section"
        );
        // Nested, and a panic outside it.
        assert_eq!(
            contained(|| contained(|| -> u32 { panic!("inner") })),
            Some(None)
        );
        assert_eq!(PRINTED.with(Cell::get), 0);
        assert!(std::panic::catch_unwind(|| panic!("not contained")).is_err());
        assert_eq!(PRINTED.with(Cell::get), 1, "a panic outside is printed");
    }
}
